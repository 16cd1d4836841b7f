"""MoySklad's wire time: Moscow wall-clock time written without an offset, converted here once.

Every timestamp MoySklad sends or takes (``updated``, filters, ``changedSince``, document
``moment``) is ``YYYY-MM-DD HH:mm:ss[.SSS]`` in Moscow time with no offset. Moscow has been UTC+3
all year since 2014, so a fixed offset is exact for every date the API can hold and needs no tz
database. Inside the hub timestamps are aware UTC (:mod:`hub.model`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Final

__all__ = ["MOSCOW", "MOSCOW_OFFSET", "format_moscow", "moscow_today", "parse_moscow", "to_moscow"]

MOSCOW_OFFSET: Final = timedelta(hours=3)
MOSCOW: Final = timezone(MOSCOW_OFFSET, "MSK")
#: the shapes MoySklad writes and accepts, most precise first
WIRE_FORMATS: Final = ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")


def to_moscow(ts: datetime) -> datetime:
    """An aware datetime as naive Moscow wall-clock time.

    Raises:
        ValueError: ``ts`` is naive (its zone would be a guess).
    """
    if ts.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return ts.astimezone(MOSCOW).replace(tzinfo=None)


def format_moscow(ts: datetime, *, milliseconds: bool = False) -> str:
    """An aware datetime as MoySklad writes it: ``YYYY-MM-DD HH:mm:ss`` (``.SSS`` with ``milliseconds``).

    Raises:
        ValueError: ``ts`` is naive.
    """
    local = to_moscow(ts)
    text = local.strftime("%Y-%m-%d %H:%M:%S")
    return f"{text}.{local.microsecond // 1000:03d}" if milliseconds else text


def parse_moscow(text: str) -> datetime:
    """``2026-03-25 17:44:31.829`` (Moscow, no offset; seconds and milliseconds optional) → aware UTC.

    Raises:
        ValueError: ``text`` is none of MoySklad's shapes.
    """
    stripped = text.strip()
    for fmt in WIRE_FORMATS:
        try:
            local = datetime.strptime(stripped, fmt)
        except ValueError:
            continue
        return local.replace(tzinfo=MOSCOW).astimezone(UTC)
    raise ValueError(f"not a MoySklad timestamp: {text!r}")


def moscow_today(now: datetime | None = None) -> date:
    """The calendar day in Moscow (the day MoySklad's dated rules go by); ``now`` defaults to now."""
    return (now or datetime.now(UTC)).astimezone(MOSCOW).date()
