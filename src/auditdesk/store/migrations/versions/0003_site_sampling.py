"""site settings, pseudonym secret, technologists with aliases, locations, chart annotations and
weekly sample plans with their items (issue 5). Only adds tables; no existing row changes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 02:40:07.195537
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "annotations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("label", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("pdsa_cycle", sa.String(length=64), nullable=False),
        sa.Column("starts_phase", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annotations")),
    )
    with op.batch_alter_table("annotations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_annotations_date"), ["date"], unique=False)

    op.create_table(
        "locations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_locations")),
        sa.UniqueConstraint("name", name=op.f("uq_locations_name")),
    )
    op.create_table(
        "site_secrets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("secret", sa.LargeBinary(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_secrets")),
    )
    op.create_table(
        "site_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_name", sa.String(length=256), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("organisation", sa.String(length=256), nullable=False),
        sa.Column("collaborative", sa.String(length=256), nullable=False),
        sa.Column("goal_pct", sa.Float(), nullable=True),
        sa.Column("checklist_id", sa.String(length=64), nullable=False),
        sa.Column("default_location", sa.String(length=128), nullable=True),
        sa.Column("is_demo", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_settings")),
    )
    op.create_table(
        "sample_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("mode", sa.String(length=32), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("second_share", sa.Float(), nullable=False),
        sa.Column("screening_only", sa.Boolean(), nullable=False),
        sa.Column("reviewer_pks", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("replaced_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["reviewers.id"], name=op.f("fk_sample_plans_created_by_reviewers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sample_plans")),
    )
    with op.batch_alter_table("sample_plans", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sample_plans_week_start"), ["week_start"], unique=False
        )

    op.create_table(
        "technologists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("initials", sa.String(length=8), nullable=False),
        sa.Column("location_pk", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_pk"], ["locations.id"], name=op.f("fk_technologists_location_pk_locations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_technologists")),
        sa.UniqueConstraint("name", name=op.f("uq_technologists_name")),
    )
    with op.batch_alter_table("technologists", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_technologists_location_pk"), ["location_pk"], unique=False
        )

    op.create_table(
        "sample_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_pk", sa.Integer(), nullable=False),
        sa.Column("study_pk", sa.Integer(), nullable=False),
        sa.Column("technologist", sa.String(length=128), nullable=True),
        sa.Column("primary_reviewer_pk", sa.Integer(), nullable=True),
        sa.Column("second_reviewer_pk", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_pk"], ["sample_plans.id"], name=op.f("fk_sample_items_plan_pk_sample_plans")
        ),
        sa.ForeignKeyConstraint(
            ["primary_reviewer_pk"],
            ["reviewers.id"],
            name=op.f("fk_sample_items_primary_reviewer_pk_reviewers"),
        ),
        sa.ForeignKeyConstraint(
            ["second_reviewer_pk"],
            ["reviewers.id"],
            name=op.f("fk_sample_items_second_reviewer_pk_reviewers"),
        ),
        sa.ForeignKeyConstraint(
            ["study_pk"], ["studies.id"], name=op.f("fk_sample_items_study_pk_studies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sample_items")),
        sa.UniqueConstraint("plan_pk", "study_pk", name="uq_sample_items_plan_study"),
    )
    with op.batch_alter_table("sample_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sample_items_study_pk"), ["study_pk"], unique=False)

    op.create_table(
        "technologist_aliases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("technologist_pk", sa.Integer(), nullable=False),
        sa.Column("raw_name", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["technologist_pk"],
            ["technologists.id"],
            name=op.f("fk_technologist_aliases_technologist_pk_technologists"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_technologist_aliases")),
        sa.UniqueConstraint("raw_name", name=op.f("uq_technologist_aliases_raw_name")),
    )
    with op.batch_alter_table("technologist_aliases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_technologist_aliases_technologist_pk"), ["technologist_pk"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("technologist_aliases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_technologist_aliases_technologist_pk"))

    op.drop_table("technologist_aliases")
    with op.batch_alter_table("sample_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sample_items_study_pk"))

    op.drop_table("sample_items")
    with op.batch_alter_table("technologists", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_technologists_location_pk"))

    op.drop_table("technologists")
    with op.batch_alter_table("sample_plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sample_plans_week_start"))

    op.drop_table("sample_plans")
    op.drop_table("site_settings")
    op.drop_table("site_secrets")
    op.drop_table("locations")
    with op.batch_alter_table("annotations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_annotations_date"))

    op.drop_table("annotations")
