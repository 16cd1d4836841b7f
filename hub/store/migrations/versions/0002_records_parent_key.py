"""Records: ``parent_key``, the first part of a composite key, indexed for slice reads.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

The full import publishes the catalog in slices of offers, each read with its own prices and
images (``parent_key`` = the offer or owner id), so memory stays flat as the catalog grows.
Existing rows are backfilled from their keys.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEPARATOR = "|"  # hub.store.records.KEY_SEPARATOR at the time of writing
BATCH = 5000


def upgrade() -> None:
    with op.batch_alter_table("records") as batch:
        batch.add_column(sa.Column("parent_key", sa.String(255), nullable=True))
    op.create_index("ix_records_parent", "records", ["integration", "kind", "parent_key"])
    records = sa.table(
        "records", sa.column("integration"), sa.column("kind"), sa.column("key"), sa.column("parent_key")
    )
    conn = op.get_bind()
    # in Python rather than SQL: string functions differ between SQLite and PostgreSQL
    composite = conn.execute(
        sa.select(records.c.integration, records.c.kind, records.c.key).where(records.c.key.contains(SEPARATOR))
    ).all()
    update = (
        sa.update(records)
        .where(
            records.c.integration == sa.bindparam("b_integration"),
            records.c.kind == sa.bindparam("b_kind"),
            records.c.key == sa.bindparam("b_key"),
        )
        .values(parent_key=sa.bindparam("b_parent"))
    )
    for start in range(0, len(composite), BATCH):
        conn.execute(
            update,
            [
                {
                    "b_integration": row.integration,
                    "b_kind": row.kind,
                    "b_key": row.key,
                    "b_parent": row.key.split(SEPARATOR, 1)[0],
                }
                for row in composite[start : start + BATCH]
            ],
        )


def downgrade() -> None:
    op.drop_index("ix_records_parent", table_name="records")
    with op.batch_alter_table("records") as batch:
        batch.drop_column("parent_key")
