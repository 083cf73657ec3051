"""audit purpose (review / consensus / reference) and calibration sets (issue 6).

``audits.purpose`` is added with the server default "review", so every existing audit stays an
ordinary review; the unique constraint becomes (study, reviewer, checklist, purpose) so a coach
can hold a review audit and a consensus or reference audit of the same exam. SQLite cannot alter
a constraint in place: batch mode copies the table (rows and ids are kept).

Downgrade drops the calibration tables and the column. Consensus and reference audits have no
place in the older schema (they would break its unique constraint and count as reviews), so they
are deleted together with their answers, measurements, scores, overrides and history.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_AUDIT_CHILDREN = (
    "audit_answers",
    "audit_measurements",
    "audit_scores",
    "audit_overrides",
    "audit_events",
)


def _sqlite_foreign_keys(on: bool) -> None:
    """Batch mode copies ``audits``, drops it and renames the copy while answers, scores etc.
    still point at its ids; with foreign keys enforced (``store.db``) SQLite refuses the drop,
    and deferring the check does not help (the drop's violations are never undone). The pragma
    is ignored inside a transaction, so what ran before is committed first (each earlier
    revision is complete at this point, alembic_version included). Switching back on commits
    the copy and then checks every foreign key, so a broken reference still fails loudly."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    raw = bind.connection.dbapi_connection
    assert raw is not None
    raw.commit()
    raw.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    if on:
        broken = raw.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"foreign keys broken by revision 0004: {broken[:5]}")


def upgrade() -> None:
    _sqlite_foreign_keys(False)
    with op.batch_alter_table("audits", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("purpose", sa.String(length=16), server_default="review", nullable=False)
        )
        batch_op.drop_constraint("uq_audits_study_reviewer_checklist", type_="unique")
        batch_op.create_unique_constraint(
            "uq_audits_study_reviewer_checklist_purpose",
            ["study_pk", "reviewer_pk", "checklist_id", "purpose"],
        )
    _sqlite_foreign_keys(True)

    op.create_table(
        "calibration_sets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("checklist_id", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["reviewers.id"], name=op.f("fk_calibration_sets_created_by_reviewers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calibration_sets")),
        sa.UniqueConstraint("name", name=op.f("uq_calibration_sets_name")),
    )
    op.create_table(
        "calibration_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("set_pk", sa.Integer(), nullable=False),
        sa.Column("study_pk", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["set_pk"],
            ["calibration_sets.id"],
            name=op.f("fk_calibration_items_set_pk_calibration_sets"),
        ),
        sa.ForeignKeyConstraint(
            ["study_pk"], ["studies.id"], name=op.f("fk_calibration_items_study_pk_studies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calibration_items")),
        sa.UniqueConstraint("set_pk", "study_pk", name="uq_calibration_items_set_study"),
    )
    with op.batch_alter_table("calibration_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_calibration_items_study_pk"), ["study_pk"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("calibration_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calibration_items_study_pk"))

    op.drop_table("calibration_items")
    op.drop_table("calibration_sets")

    others = "SELECT id FROM audits WHERE purpose <> 'review'"
    for table in _AUDIT_CHILDREN:
        op.execute(f"DELETE FROM {table} WHERE audit_pk IN ({others})")
    op.execute("DELETE FROM audits WHERE purpose <> 'review'")

    _sqlite_foreign_keys(False)
    with op.batch_alter_table("audits", schema=None) as batch_op:
        batch_op.drop_constraint("uq_audits_study_reviewer_checklist_purpose", type_="unique")
        batch_op.create_unique_constraint(
            "uq_audits_study_reviewer_checklist", ["study_pk", "reviewer_pk", "checklist_id"]
        )
        batch_op.drop_column("purpose")
    _sqlite_foreign_keys(True)
