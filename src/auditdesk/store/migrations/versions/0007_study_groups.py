"""studies merged and split by a reviewer (issue 13).

Two new tables: ``study_groupings`` (one row per merge or split: who, when, why, and what an undo
needs) and ``study_uid_map`` (where the index files an image when the same files are imported
again). Existing rows are not touched. Downgrade drops both tables: the merged and split studies
stay as they are in ``studies``, but a later re-import would file the images under their original
Study UIDs again and the history of the change is lost.

Revision ID: 0007_study_groups
Revises: 0006_view_confidence
Create Date: 2026-12-05 02:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_study_groups"
down_revision = "0006_view_confidence"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "study_groupings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("result_study_uid", sa.String(length=64), nullable=False),
        sa.Column("reviewer", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("undone_at", sa.DateTime(), nullable=True),
        sa.Column("undone_by", sa.String(length=128), nullable=True),
        sa.Column("undo_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_study_groupings")),
    )
    op.create_index(
        op.f("ix_study_groupings_result_study_uid"),
        "study_groupings",
        ["result_study_uid"],
        unique=False,
    )
    op.create_table(
        "study_uid_map",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grouping_pk", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("source_uid", sa.String(length=64), nullable=False),
        sa.Column("study_uid", sa.String(length=64), nullable=False),
        sa.Column("series_uid", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["grouping_pk"],
            ["study_groupings.id"],
            name=op.f("fk_study_uid_map_grouping_pk_study_groupings"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_study_uid_map")),
    )
    op.create_index(
        op.f("ix_study_uid_map_grouping_pk"), "study_uid_map", ["grouping_pk"], unique=False
    )
    op.create_index(
        op.f("ix_study_uid_map_source_uid"), "study_uid_map", ["source_uid"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_study_uid_map_source_uid"), table_name="study_uid_map")
    op.drop_index(op.f("ix_study_uid_map_grouping_pk"), table_name="study_uid_map")
    op.drop_table("study_uid_map")
    op.drop_index(op.f("ix_study_groupings_result_study_uid"), table_name="study_groupings")
    op.drop_table("study_groupings")
