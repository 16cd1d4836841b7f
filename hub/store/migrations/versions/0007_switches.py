"""The Active switch as set in the console, per integration.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08

A manager who switches an integration off in the console means it to stay off: the switch is kept
in the store and wins over the config file's ``active:``, so that a restart of ``skladbridge serve``
or a re-run of ``skladbridge deploy`` (both of which plan the deployments from the file) no longer
resumes what the manager paused.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "switches",
        sa.Column("integration", sa.String(100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("switched_by", sa.String(100), nullable=False),
        sa.Column("switched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("integration", name="pk_switches"),
    )


def downgrade() -> None:
    op.drop_table("switches")
