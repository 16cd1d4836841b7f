"""Stock notices: webhook deliveries the receiver kept, until a stock cycle has carried them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

The webhook receiver answers a stock source within its deadline (MoySklad: 1.5 s) and runs the
stock cycle afterwards; a notice waits here meanwhile, so a receiver restarted mid-burst replays
what no cycle carried yet. One row per delivery: the source's retries repeat its id.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "stock_notices",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("integration", sa.String(100), nullable=False),
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("delivery_id", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("changed_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_stock_notices"),
        sa.UniqueConstraint("delivery_id", "integration", name="uq_stock_notices_delivery_id_integration"),
    )
    op.create_index("ix_stock_notices_pending", "stock_notices", ["integration", "done_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_stock_notices_pending", table_name="stock_notices")
    op.drop_table("stock_notices")
