"""How often each exchange of an integration runs (``integrations.<name>.periods``), checked at load.

The seed admin panels' "data upload period" and "remaining import period", one key per exchange::

    periods:
      order_upload: 1m            # an interval: 90s, 10m, 1h, 1h30m, 1d, or plain seconds (600)
      stock_sync: 10m
      catalog_feed: "0 */3 * * *" # or a five-field cron (minute hour day-of-month month day-of-week)
      full_import: manual         # on demand only: manual, off, never, null
      timezone: Europe/Moscow     # what the crons' hours mean (default UTC)

Defaults are the seed modules' (:data:`DEFAULTS`). A period shorter than the exchange's floor
(:data:`FLOORS`, each with its reason) is refused; so is a cron that never fires, and a cron that
fires every minute for a few hours only (``* */4 * * *`` is every minute of every fourth hour, not
"every 4 hours": that is ``0 */4 * * *``). A cron's shortest gap between two runs, over four years of
calendar, is what the floor is checked against. Nothing here imports Prefect: the config loads fast.

The daily ``stock_reconcile`` (a whole stock read, ``stock_sync(full=True)`` on its own schedule)
and ``options.stock.full_every`` work together: the deployment chooses *when* the whole read
happens (a night-time cron, say); ``full_every`` is the longest a stock cycle lets pass without one,
so a reconciliation still happens when the scheduled one did not run (served without schedules, a
worker down). A whole read by either resets the other's clock.
"""

from __future__ import annotations

import calendar
import math
import re
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, field_validator, model_validator

MINUTE, HOUR, DAY = 60, 3600, 86_400
#: the longest interval: a year and a day (a longer one overflows the scheduler's date arithmetic;
#: an exchange that should not run on a schedule is ``manual``)
LONGEST = 366 * DAY

#: what an exchange's period may not go under, and why (the message a refused period carries)
FLOORS: dict[str, tuple[int, str]] = {
    "order_upload": (
        MINUTE,
        "a flow run costs seconds of overhead; orders within seconds come from the "
        "order-history poll of `skladbridge serve`, not from a schedule",
    ),
    "order_status_sync": (
        MINUTE,
        "a flow run costs seconds of overhead; statuses within seconds come from "
        "the order-history poll of `skladbridge serve`, not from a schedule",
    ),
    "order_documents": (
        MINUTE,
        "a flow run costs seconds of overhead, and a quiet cycle reads nothing: documents follow "
        "the order upload, which runs every minute at most on a schedule too",
    ),
    "two_way_sync": (
        MINUTE,
        "a flow run costs seconds of overhead; the ERP's change webhooks start a cycle at once, the "
        "schedule reads the channel's customer history and the ERP's changed orders",
    ),
    "stock_sync": (
        MINUTE,
        "each cycle reads the MoySklad stock report; faster would outrun the cycles "
        "and spend the account's request budget (stock within seconds comes from the webhooks)",
    ),
    "archive_backfill": (10 * MINUTE, "each run pages through order history, a heavy read of both APIs"),
    "catalog_feed": (
        30 * MINUTE,
        "each run reads the whole assortment, and the CRM reloads a feed only every few hours anyway",
    ),
    "full_import": (HOUR, "each run reads the whole catalog (thousands of requests on a large account)"),
    "stock_reconcile": (
        HOUR,
        "each run reads all stock of every store; options.stock.full_every "
        "(at least 10 minutes) is the in-cycle safety net",
    ),
}

#: the seed modules' periods (``None``: on demand)
DEFAULTS: dict[str, str | None] = {
    "order_upload": "1m",
    "order_status_sync": "1m",
    "order_documents": "1m",
    "two_way_sync": "1m",
    "stock_sync": "10m",
    "archive_backfill": "30m",
    "catalog_feed": "3h",
    "full_import": None,
    "stock_reconcile": "1d",
}

_MANUAL = frozenset({"manual", "off", "never", "on demand", "on-demand", "none", ""})
_INTERVAL = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
_DAYS = {name: i for i, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
#: (name, low, high, names) of the five cron fields
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)


@dataclass(frozen=True)
class Period:
    """One exchange's period: an interval in seconds, a cron expression, or on demand (neither)."""

    text: str | None
    seconds: int | None = None
    cron: str | None = None
    #: the shortest gap between two runs, in seconds (a cron's over four years; None: on demand)
    min_gap: int | None = None

    @property
    def scheduled(self) -> bool:
        return self.seconds is not None or self.cron is not None

    def describe(self) -> str:
        if self.seconds is not None:
            return f"every {human(self.seconds)}"
        if self.cron is not None:
            return f"cron {self.cron}"
        return "on demand"

    def __str__(self) -> str:
        return self.describe()


def human(seconds: int) -> str:
    """``600`` -> ``10m``; ``5400`` -> ``1h30m``; ``86400`` -> ``1d`` (the form :func:`parse_period` reads)."""
    parts = []
    for unit, size in (("d", DAY), ("h", HOUR), ("m", MINUTE), ("s", 1)):
        if seconds >= size and (seconds // size or unit == "s"):
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


def parse_period(value: Any) -> Period:
    """A period as written in the config: seconds, ``10m``-style, a cron, or on demand.

    Raises:
        ValueError: naming what is wrong and what is accepted.
    """
    if isinstance(value, Period):
        return value
    if value is None or value is False:  # YAML reads a bare `off` as false
        return Period(None)
    if isinstance(value, bool):
        raise ValueError("true is no period: write an interval (10m), a cron, or manual")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value != int(value) or value <= 0:
            raise ValueError(f"{value!r}: a period in seconds is a positive whole number")
        return Period(str(int(value)), seconds=_at_most_longest(int(value), value), min_gap=int(value))
    if not isinstance(value, str):
        raise ValueError(f"{value!r}: expected an interval (600, 10m, 1h), a cron or manual")
    text = " ".join(value.split())
    if text.lower() in _MANUAL:
        return Period(None)
    if text.isdigit() or _INTERVAL.fullmatch(text.lower()):
        seconds = int(text) if text.isdigit() else _interval_seconds(text.lower())
        if seconds <= 0:
            raise ValueError(f"{value!r}: a period must be longer than zero")
        return Period(text, seconds=_at_most_longest(seconds, value), min_gap=seconds)
    expression = _MACROS.get(text.lower(), text)
    if len(expression.split()) == 5:
        return Period(text, cron=expression, min_gap=cron_min_gap(expression))
    raise ValueError(
        f"{value!r} is not a period: write seconds (600), an interval (90s, 10m, 1h, 1d, 1h30m), "
        "a five-field cron ('0 3 * * *'), or manual"
    )


def _at_most_longest(seconds: int, value: Any) -> int:
    if seconds > LONGEST:
        raise ValueError(
            f"{value!r}: a period may be at most {human(LONGEST)} (366 days); for an exchange "
            "that runs on demand only write manual"
        )
    return seconds


def _interval_seconds(text: str) -> int:
    match = _INTERVAL.fullmatch(text)
    assert match is not None
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return days * DAY + hours * HOUR + minutes * MINUTE + seconds


# -- cron ---------------------------------------------------------------------------------------


def cron_fields(expression: str) -> tuple[list[set[int]], list[bool]]:
    """The values each of the five fields allows, and whether each was written as ``*`` (unrestricted).

    Raises:
        ValueError: a field that is not cron syntax (numbers, names, ``*``, ranges, steps, lists).
    """
    parts = expression.split()
    if len(parts) != 5:
        raise ValueError(f"{expression!r}: a cron has five fields (minute hour day-of-month month day-of-week)")
    values: list[set[int]] = []
    for text, (name, low, high, names) in zip(parts, _FIELDS, strict=True):
        allowed: set[int] = set()
        for item in text.lower().split(","):
            allowed |= _cron_item(item, name, low, high, names, expression)
        if name == "day of week" and 7 in allowed:
            allowed = (allowed - {7}) | {0}  # 7 is Sunday too
        values.append(allowed)
    return values, [p.startswith("*") for p in parts]


def _cron_item(item: str, name: str, low: int, high: int, names: dict[str, int], expression: str) -> set[int]:
    def bad(why: str) -> ValueError:
        return ValueError(f"{expression!r}: {name} field {item!r}: {why} (allowed {low}-{high})")

    def number(text: str) -> int:
        if text in names:
            return names[text]
        if not text.isdigit():
            raise bad("not a number")
        value = int(text)
        if not low <= value <= high:
            raise bad("out of range")
        return value

    body, _, step_text = item.partition("/")
    step = 1
    if step_text:
        if not step_text.isdigit() or int(step_text) == 0:
            raise bad("the step after / must be a positive number")
        step = int(step_text)
    if body == "*":
        start, end = low, high
    elif "-" in body:
        first, _, last = body.partition("-")
        start, end = number(first), number(last)
        if start > end:
            raise bad("a range goes from low to high")
    else:
        start = number(body)
        end = high if step_text else start  # "5/15" is 5-59/15, as cron reads it
    return set(range(start, end + 1, step))


def cron_min_gap(expression: str) -> int:
    """The shortest time between two firings of ``expression``, in seconds, over four years.

    Days match as cron matches them: when both day fields are restricted, either may match.

    Raises:
        ValueError: not cron syntax, never fires, or fires every minute for some hours only.
    """
    (minutes, hours, days, months, weekdays), star = cron_fields(expression)
    if len(minutes) == 60 and len(hours) < 24:
        every = sorted(hours)
        raise ValueError(
            f"{expression!r} fires every minute during hours {every[:6]}{'...' if len(every) > 6 else ''}"
            f"; for one run every few hours put a minute first, e.g. '0 {expression.split()[1]} * * *'"
        )
    times = sorted(h * 60 + m for h in hours for m in minutes)
    either = not star[2] and not star[4]
    start = date(2025, 1, 1)  # four years from here hold one 29 February
    firing: list[int] = []
    for offset in range(4 * 366):
        day = start + timedelta(days=offset)
        weekday = (day.weekday() + 1) % 7  # cron: 0 is Sunday
        by_month, by_weekday = day.day in days, weekday in weekdays
        if day.month in months and ((by_month or by_weekday) if either else (by_month and by_weekday)):
            firing.append(offset)
    if not firing:
        raise ValueError(f"{expression!r} never fires (no such day)")
    gaps = [b - a for a, b in pairwise(times)]
    gaps += [(b - a) * 1440 - times[-1] + times[0] for a, b in pairwise(firing)]
    return min(gaps) * MINUTE if gaps else 4 * 365 * DAY


# -- the model ----------------------------------------------------------------------------------

PeriodField = Annotated[
    Period, BeforeValidator(parse_period), PlainSerializer(lambda p: p.text, return_type=str | None)
]


def _default(key: str) -> Any:
    return Field(
        default_factory=lambda: parse_period(DEFAULTS[key]), description=f"default: {DEFAULTS[key] or 'manual'}"
    )


class Periods(BaseModel):
    """How often each exchange of one integration runs; defaults are the seed modules'."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    order_upload: PeriodField = _default("order_upload")
    order_status_sync: PeriodField = _default("order_status_sync")
    order_documents: PeriodField = _default("order_documents")
    two_way_sync: PeriodField = _default("two_way_sync")
    stock_sync: PeriodField = _default("stock_sync")
    archive_backfill: PeriodField = _default("archive_backfill")
    catalog_feed: PeriodField = _default("catalog_feed")
    full_import: PeriodField = _default("full_import")
    stock_reconcile: PeriodField = _default("stock_reconcile")
    timezone: str = Field(default="UTC", description="the time zone the crons' hours are in (IANA name)")

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, value: Any) -> Any:
        if isinstance(value, dict):
            unknown = sorted(str(k) for k in value if k not in cls.model_fields)
            if unknown:
                raise ValueError(f"unknown period {', '.join(unknown)}; periods are {sorted(FLOORS)} and timezone")
        return value

    @field_validator(*FLOORS)
    @classmethod
    def _not_under_the_floor(cls, period: Period, info: Any) -> Period:
        floor, why = FLOORS[info.field_name]
        if period.min_gap is not None and period.min_gap < floor:
            often = "as often as " if period.cron else ""
            raise ValueError(
                f"{period.text!r} runs {often}every {human(period.min_gap)}, under the floor of "
                f"{human(floor)} for {info.field_name}: {why}"
            )
        return period

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as UTC or Europe/Moscow") from None
        return value

    def of(self, key: str) -> Period:
        """The period of exchange key ``key`` (a :data:`FLOORS` key)."""
        period = getattr(self, key)
        assert isinstance(period, Period)
        return period
