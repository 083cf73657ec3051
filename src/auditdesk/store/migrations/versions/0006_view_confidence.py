"""view confidence and conflicts per image, local view spellings per site (issue 13).

Adds ``images.view_confidence`` (high/medium/low/none) and ``images.view_conflict`` (which
header sources disagreed), both empty for images indexed before: they are filled when the
files are imported again (mammograms without a confidence are read once more), and until then
nothing is marked "please confirm". Adds ``site_settings.view_spellings`` (empty: no local
spellings). Downgrade drops the three columns; nothing else changes.

Revision ID: 0006_view_confidence
Revises: 0005_spc
Create Date: 2026-12-05 02:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_view_confidence"
down_revision = "0005_spc"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.add_column(sa.Column("view_confidence", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("view_conflict", sa.Text(), nullable=True))
    with op.batch_alter_table("site_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("view_spellings", sa.Text(), server_default="", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("site_settings", schema=None) as batch_op:
        batch_op.drop_column("view_spellings")
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.drop_column("view_conflict")
        batch_op.drop_column("view_confidence")
