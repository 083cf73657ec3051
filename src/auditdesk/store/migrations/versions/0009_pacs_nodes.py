"""PACS nodes to query and retrieve from (issue 19).

Adds the ``pacs_nodes`` table (DIMSE or DICOMweb connection settings). Nothing else changes;
downgrade drops the table (the configured nodes are lost, no indexed data is touched).

Revision ID: 0009_pacs_nodes
Revises: 0007_study_groups
Create Date: 2026-12-05 02:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_pacs_nodes"
# The integrator re-chains this after the other 0006-0008 revisions of the same round.
down_revision = "0007_study_groups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pacs_nodes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("protocol", sa.String(length=8), nullable=False),
        sa.Column("aet", sa.String(length=16), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("our_aet", sa.String(length=16), nullable=True),
        sa.Column("our_port", sa.Integer(), nullable=True),
        sa.Column("url", sa.String(length=1024), nullable=True),
        sa.Column("auth", sa.String(length=8), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=True),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("retrieve_method", sa.String(length=8), nullable=False),
        sa.Column("timeout_s", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pacs_nodes")),
        sa.UniqueConstraint("name", name=op.f("uq_pacs_nodes_name")),
    )


def downgrade() -> None:
    op.drop_table("pacs_nodes")
