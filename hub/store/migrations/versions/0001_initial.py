"""Initial hub store: links, mappings, cursors, snapshots, records, exchange queue, journal.

Revision ID: 0001
Revises:
Create Date: 2026-11-22

Written by hand to match ``hub/store/tables.py``; ``tests/hub/store/test_migrations.py`` checks
that the migrated schema and the metadata agree.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "links",
        sa.Column("integration", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.Column("hub_key", sa.String(36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("external_id", "integration", "kind", "system", name="pk_links"),
        sa.UniqueConstraint(
            "hub_key", "integration", "kind", "system", name="uq_links_hub_key_integration_kind_system"
        ),
    )
    op.create_table(
        "mappings",
        sa.Column("integration", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("target", sa.String(255), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("integration", "kind", "source", name="pk_mappings"),
    )
    op.create_table(
        "cursors",
        sa.Column("integration", sa.String(100), nullable=False),
        sa.Column("stream", sa.String(100), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("integration", "stream", name="pk_cursors"),
    )
    op.create_table(
        "snapshots",
        sa.Column("integration", sa.String(100), nullable=False),
        sa.Column("stream", sa.String(100), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", "integration", "stream", name="pk_snapshots"),
    )
    op.create_table(
        "records",
        sa.Column("integration", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("hash", sa.String(40), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", "integration", "kind", name="pk_records"),
    )
    op.create_table(
        "exchange_queue",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("integration", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("payload_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(255), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_exchange_queue"),
        sa.UniqueConstraint(
            "idempotency_key",
            "integration",
            "kind",
            name="uq_exchange_queue_idempotency_key_integration_kind",
        ),
        sa.CheckConstraint("status IN ('pending', 'in_progress', 'done', 'dead')", name="ck_exchange_queue_status"),
    )
    op.create_index("ix_exchange_queue_status_next_attempt_at", "exchange_queue", ["status", "next_attempt_at"])
    op.create_table(
        "journal",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("integration", sa.String(100), nullable=True),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("level_no", sa.SmallInteger(), nullable=False),
        sa.Column("event", sa.String(100), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_journal"),
    )
    op.create_index("ix_journal_at", "journal", ["at"])
    op.create_index("ix_journal_integration_id", "journal", ["integration", "id"])


def downgrade() -> None:
    op.drop_table("journal")
    op.drop_table("exchange_queue")
    op.drop_table("records")
    op.drop_table("snapshots")
    op.drop_table("cursors")
    op.drop_table("mappings")
    op.drop_table("links")
