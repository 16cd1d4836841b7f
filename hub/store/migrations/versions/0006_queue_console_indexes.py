"""Indexes for the console's queue pages: one integration's items by status or by kind, newest first.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07

With 100 000 items, a page filtered by integration and status (or kind), and the integration's
counts by status, read the whole table without them (``bench/console_pages.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_exchange_queue_integration_status_id", "exchange_queue", ["integration", "status", "id"])
    op.create_index("ix_exchange_queue_integration_kind_id", "exchange_queue", ["integration", "kind", "id"])


def downgrade() -> None:
    op.drop_index("ix_exchange_queue_integration_kind_id", table_name="exchange_queue")
    op.drop_index("ix_exchange_queue_integration_status_id", table_name="exchange_queue")
