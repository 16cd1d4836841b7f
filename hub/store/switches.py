"""The Active switch as a manager last set it in the console, per integration (``store.switches``).

The config file's ``active:`` is the reviewed default; a switch set in the console wins over it
(:func:`hub.switches.with_switches`), as a mapping saved there wins over the file's value for its key.
Without this a pause lived only in Prefect's deployments, and the next ``serve`` start or ``deploy``
— both plan the deployments from the file — resumed what the manager had paused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from .db import Database
from .tables import switches as sw


@dataclass(frozen=True)
class Switch:
    """An integration switched on or off in the console: by whom and when."""

    integration: str
    active: bool
    by: str
    at: datetime


class Switches:
    """Repository of the console's Active switches."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def set(self, integration: str, active: bool, *, by: str) -> Switch:
        """Keep ``integration`` switched ``active`` (on) or off, as ``by`` set it; returns the switch."""
        switch = Switch(integration, active, by, self.db.now())
        row = {"integration": integration, "active": active, "switched_by": by, "switched_at": switch.at}
        stmt = self.db.insert(sw)
        stmt = stmt.on_conflict_do_update(
            index_elements=["integration"],
            set_={k: getattr(stmt.excluded, k) for k in ("active", "switched_by", "switched_at")},
        )
        with self.db.write() as conn:
            conn.execute(stmt, row)
        return switch

    def get(self, integration: str) -> Switch | None:
        """The switch set for ``integration``, or None when the console never switched it."""
        return self.all().get(integration)

    def all(self) -> dict[str, Switch]:
        """Every switch the console set, by integration."""
        with self.db.read() as conn:
            rows = conn.execute(select(sw.c.integration, sw.c.active, sw.c.switched_by, sw.c.switched_at))
            return {r.integration: Switch(r.integration, bool(r.active), r.switched_by, r.switched_at) for r in rows}

    def forget(self, integration: str) -> bool:
        """Drop the console's switch: the file's ``active:`` holds again. True when there was one."""
        with self.db.write() as conn:
            return conn.execute(delete(sw).where(sw.c.integration == integration)).rowcount > 0
