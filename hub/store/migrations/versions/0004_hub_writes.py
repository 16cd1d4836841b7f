"""Hub writes: the values the hub itself wrote on a channel's orders (status, ERP id), with when.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07

A channel's history shows every change made with the hub's credential, and a shop's site module
or script may share that credential. The order reader skips a change as the hub's own echo only
when it matches a row here by (order, field, value, time); anything else made with the key is read.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "hub_writes",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("integration", sa.String(100), nullable=False),
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("order_id", sa.String(255), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_hub_writes"),
    )
    op.create_index("ix_hub_writes_order", "hub_writes", ["integration", "system", "order_id"])
    op.create_index("ix_hub_writes_started_at", "hub_writes", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_hub_writes_started_at", table_name="hub_writes")
    op.drop_index("ix_hub_writes_order", table_name="hub_writes")
    op.drop_table("hub_writes")
