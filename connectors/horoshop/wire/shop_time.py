"""Horoshop's wire time: order dates in the shop's local time, without an offset.

``stat_created`` reads ``2021-04-01 12:34:56``; filters take ``YYYY-MM-DD`` or ``DD.MM.YYYY``,
with `` HH:mm:ss`` since version 3.30 (crm.md D). Converted to and from UTC here, once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

WIRE_FORMAT = "%Y-%m-%d %H:%M:%S"
_READ_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y")


def to_wire(moment: datetime, timezone: str) -> str:
    """An aware moment as the shop writes it (its local time)."""
    return moment.astimezone(ZoneInfo(timezone)).strftime(WIRE_FORMAT)


def from_wire(text: str | None, timezone: str) -> datetime | None:
    """A shop-local date (any accepted form) as an aware UTC moment; None when empty or unreadable."""
    if not text:
        return None
    for fmt in _READ_FORMATS:
        try:
            local = datetime.strptime(str(text).strip(), fmt)
        except ValueError:
            continue
        return local.replace(tzinfo=ZoneInfo(timezone)).astimezone(UTC)
    return None
