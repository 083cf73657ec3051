"""audit record: reviewers, checklist versions, audits with answers, measurements, scores,
overrides and change history (issue 3, items 3 and 4). Only adds tables; no existing row changes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 00:23:48.083647
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "checklist_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checklist_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=256), nullable=False),
        sa.Column("source_text", sa.Text(), nullable=False),
        sa.Column("first_used_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checklist_versions")),
        sa.UniqueConstraint("content_hash", name=op.f("uq_checklist_versions_content_hash")),
    )
    with op.batch_alter_table("checklist_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_checklist_versions_checklist_id"), ["checklist_id"], unique=False
        )

    op.create_table(
        "reviewers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("initials", sa.String(length=8), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviewers")),
        sa.UniqueConstraint("name", name=op.f("uq_reviewers_name")),
    )
    op.create_table(
        "audits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_pk", sa.Integer(), nullable=False),
        sa.Column("reviewer_pk", sa.Integer(), nullable=False),
        sa.Column("checklist_version_pk", sa.Integer(), nullable=False),
        sa.Column("checklist_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("learning_opportunity", sa.Boolean(), nullable=False),
        sa.Column("blinded", sa.Boolean(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["checklist_version_pk"],
            ["checklist_versions.id"],
            name=op.f("fk_audits_checklist_version_pk_checklist_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_pk"], ["reviewers.id"], name=op.f("fk_audits_reviewer_pk_reviewers")
        ),
        sa.ForeignKeyConstraint(
            ["study_pk"], ["studies.id"], name=op.f("fk_audits_study_pk_studies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audits")),
        sa.UniqueConstraint(
            "study_pk", "reviewer_pk", "checklist_id", name="uq_audits_study_reviewer_checklist"
        ),
    )
    with op.batch_alter_table("audits", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audits_checklist_version_pk"), ["checklist_version_pk"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_audits_reviewer_pk"), ["reviewer_pk"], unique=False)

    op.create_table(
        "audit_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("audit_pk", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("reason_code", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("answered_by", sa.Integer(), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["answered_by"], ["reviewers.id"], name=op.f("fk_audit_answers_answered_by_reviewers")
        ),
        sa.ForeignKeyConstraint(
            ["audit_pk"], ["audits.id"], name=op.f("fk_audit_answers_audit_pk_audits")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_answers")),
        sa.UniqueConstraint("audit_pk", "key", name="uq_audit_answers_audit_key"),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("audit_pk", sa.Integer(), nullable=False),
        sa.Column("reviewer_pk", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=True),
        sa.Column("old_value", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("new_value", sa.JSON(none_as_null=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["audit_pk"], ["audits.id"], name=op.f("fk_audit_events_audit_pk_audits")
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_pk"], ["reviewers.id"], name=op.f("fk_audit_events_reviewer_pk_reviewers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_audit_pk"), ["audit_pk"], unique=False)

    op.create_table(
        "audit_measurements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("audit_pk", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value_mm", sa.Float(), nullable=True),
        sa.Column("value_px", sa.Float(), nullable=False),
        sa.Column("calibration_source", sa.String(length=32), nullable=False),
        sa.Column("sop_uid", sa.String(length=64), nullable=True),
        sa.Column("geometry", sa.JSON(), nullable=True),
        sa.Column("measured_by", sa.Integer(), nullable=False),
        sa.Column("measured_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["audit_pk"], ["audits.id"], name=op.f("fk_audit_measurements_audit_pk_audits")
        ),
        sa.ForeignKeyConstraint(
            ["measured_by"],
            ["reviewers.id"],
            name=op.f("fk_audit_measurements_measured_by_reviewers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_measurements")),
        sa.UniqueConstraint("audit_pk", "key", name="uq_audit_measurements_audit_key"),
    )
    op.create_table(
        "audit_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("audit_pk", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.Column("value", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("reviewer_pk", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["audit_pk"], ["audits.id"], name=op.f("fk_audit_overrides_audit_pk_audits")
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_pk"], ["reviewers.id"], name=op.f("fk_audit_overrides_reviewer_pk_reviewers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_overrides")),
    )
    with op.batch_alter_table("audit_overrides", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_overrides_audit_pk"), ["audit_pk"], unique=False)

    op.create_table(
        "audit_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("audit_pk", sa.Integer(), nullable=False),
        sa.Column("checklist_version_pk", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("meets_criteria", sa.Boolean(), nullable=True),
        sa.Column("grade", sa.String(length=32), nullable=True),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("computed_at", sa.DateTime(), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["audit_pk"], ["audits.id"], name=op.f("fk_audit_scores_audit_pk_audits")
        ),
        sa.ForeignKeyConstraint(
            ["checklist_version_pk"],
            ["checklist_versions.id"],
            name=op.f("fk_audit_scores_checklist_version_pk_checklist_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_scores")),
    )
    with op.batch_alter_table("audit_scores", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_scores_audit_pk"), ["audit_pk"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_scores_checklist_version_pk"),
            ["checklist_version_pk"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_scores", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_scores_checklist_version_pk"))
        batch_op.drop_index(batch_op.f("ix_audit_scores_audit_pk"))

    op.drop_table("audit_scores")
    with op.batch_alter_table("audit_overrides", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_overrides_audit_pk"))

    op.drop_table("audit_overrides")
    op.drop_table("audit_measurements")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_audit_pk"))

    op.drop_table("audit_events")
    op.drop_table("audit_answers")
    with op.batch_alter_table("audits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audits_reviewer_pk"))
        batch_op.drop_index(batch_op.f("ix_audits_checklist_version_pk"))

    op.drop_table("audits")
    op.drop_table("reviewers")
    with op.batch_alter_table("checklist_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_checklist_versions_checklist_id"))

    op.drop_table("checklist_versions")
