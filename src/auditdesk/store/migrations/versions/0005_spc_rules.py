"""site settings for the p-chart special-cause rules, the small-n flag and cut weeks (issue 12).

Adds three columns to ``site_settings`` with server defaults, so an existing site keeps today's
behaviour: every rule on, small-n flag at n·p̄ < 5, exports snap a cut week to whole weeks.
Downgrade drops the columns (the settings are lost; nothing else changes).

Revision ID: 0005_spc
Revises: 0004
Create Date: 2026-12-05 01:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_spc"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("site_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "spc_rules",
                sa.String(length=128),
                server_default="outside,shift,trend,two-of-three",
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column("spc_small_np", sa.Float(), server_default="5", nullable=False)
        )
        batch_op.add_column(
            sa.Column("week_policy", sa.String(length=16), server_default="snap", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("site_settings", schema=None) as batch_op:
        batch_op.drop_column("week_policy")
        batch_op.drop_column("spc_small_np")
        batch_op.drop_column("spc_rules")
