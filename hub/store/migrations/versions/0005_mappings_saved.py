"""Mappings saved in the console, and where an unmapped value was met.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07

The console writes mapping values to the store, and a saved value wins over the config file's for
its key (docs/architecture.md, "Options and mappings"). ``saved_by`` marks such a row (and who saved
it): a saved row with a NULL target means "left out", while a NULL target without it is a value an
exchange met and nobody mapped yet (``undefined``). ``met_in`` names the exchange that met it, which
tells the console which side of the mapping the value is on.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("mappings") as batch:
        batch.add_column(sa.Column("saved_by", sa.String(100), nullable=True))
        batch.add_column(sa.Column("met_in", sa.String(100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mappings") as batch:
        batch.drop_column("met_in")
        batch.drop_column("saved_by")
