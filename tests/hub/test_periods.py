"""Periods: what each accepted form means, the seed's defaults, and every refusal with its reason.

Each cron written here (in the code's defaults, docs or these tests) is checked against what it means
by the firing times it produces, not by reading it: ``* */4 * * *`` reads like "every 4 hours" and is
every minute of every fourth hour.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from hub.config import ConfigError, load_config, parse_config
from hub.periods import DEFAULTS, FLOORS, Period, Periods, cron_fields, cron_min_gap, human, parse_period

M, H, D = 60, 3600, 86_400


def firings(expression: str, days: int = 3, start: date = date(2026, 3, 2)) -> list[tuple[date, int, int]]:
    """Every (day, hour, minute) ``expression`` fires at over ``days`` days, by brute force over minutes."""
    (minutes, hours, doms, months, dows), star = cron_fields(parse_period(expression).cron or "")
    either = not star[2] and not star[4]
    out = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        dow = (day.weekday() + 1) % 7
        day_ok = (day.day in doms or dow in dows) if either else (day.day in doms and dow in dows)
        if day.month not in months or not day_ok:
            continue
        out += [(day, h, m) for h in range(24) for m in range(60) if h in hours and m in minutes]
    return out


def test_the_seed_defaults() -> None:
    periods = Periods()
    assert {key: str(periods.of(key)) for key in FLOORS} == {
        "order_upload": "every 1m",
        "order_status_sync": "every 1m",
        "order_documents": "every 1m",
        "two_way_sync": "every 1m",
        "stock_sync": "every 10m",
        "archive_backfill": "every 30m",
        "catalog_feed": "every 3h",
        "full_import": "on demand",
        "stock_reconcile": "every 1d",
    }
    assert periods.stock_sync.seconds == 600 and periods.stock_reconcile.seconds == D
    assert periods.catalog_feed.seconds == 3 * H and not periods.full_import.scheduled
    assert periods.timezone == "UTC"
    assert set(DEFAULTS) == set(FLOORS)


@pytest.mark.parametrize(
    ("written", "seconds"),
    [
        (600, 600),
        ("600", 600),
        ("90s", 90),
        ("10m", 600),
        ("1h", H),
        ("1h30m", 90 * M),
        ("3h", 3 * H),
        ("1d", D),
        ("2d12h", 60 * H),
        (" 10m ", 600),
    ],
)
def test_intervals(written: object, seconds: int) -> None:
    period = parse_period(written)
    assert period.seconds == seconds and period.min_gap == seconds and period.cron is None
    assert parse_period(human(seconds)).seconds == seconds  # what describe() prints reads back the same


@pytest.mark.parametrize("written", [None, False, "manual", "off", "never", "on demand", "Manual"])
def test_on_demand(written: object) -> None:
    assert parse_period(written) == Period(None) and not parse_period(written).scheduled


@pytest.mark.parametrize(
    ("expression", "gap", "first_day"),
    [
        # what each means, as the firing times show it
        ("0 */4 * * *", 4 * H, [(0, 0), (4, 0), (8, 0), (12, 0), (16, 0), (20, 0)]),  # every 4 hours
        ("*/10 * * * *", 10 * M, [(h, m) for h in range(24) for m in range(0, 60, 10)]),  # every 10 minutes
        ("0 3 * * *", D, [(3, 0)]),  # daily at 03:00
        ("0 */3 * * *", 3 * H, [(h, 0) for h in range(0, 24, 3)]),  # every 3 hours (hub/periods.py)
        ("30 */3 * * *", 3 * H, [(h, 30) for h in range(0, 24, 3)]),  # every 3 hours at :30
        ("@daily", D, [(0, 0)]),
        ("@hourly", H, [(h, 0) for h in range(24)]),
        ("0 9-18/3 * * *", 3 * H, [(9, 0), (12, 0), (15, 0), (18, 0)]),  # 9 to 18, every 3 hours
        ("15/20 * * * *", 20 * M, [(h, m) for h in range(24) for m in (15, 35, 55)]),  # 15-59/20, as cron reads it
    ],
)
def test_crons_mean_what_they_say(expression: str, gap: int, first_day: list[tuple[int, int]]) -> None:
    period = parse_period(expression)
    assert period.cron is not None and period.min_gap == gap
    day = date(2026, 3, 2)
    assert [(h, m) for d, h, m in firings(expression) if d == day] == first_day


def test_day_fields_follow_cron() -> None:
    # Monday 2026-03-02 .. Sunday 2026-03-08; weekdays by name, 7 is Sunday as 0 is
    weekdays = {d.isoweekday() for d, _, _ in firings("0 9 * * mon-fri", days=7)}
    assert weekdays == {1, 2, 3, 4, 5} and parse_period("0 9 * * mon-fri").min_gap == D
    assert {d for d, _, _ in firings("0 9 * * 7", days=7)} == {date(2026, 3, 8)}
    # both day fields restricted: either matches (the 1st of the month OR a Monday)
    assert {d.day for d, _, _ in firings("0 0 1 * 1", days=31, start=date(2026, 3, 1))} == {1, 2, 9, 16, 23, 30}
    assert parse_period("0 0 1 * 1").min_gap == D  # Sunday 1 March 2026, then Monday 2 March
    # the 29th of February: once in four years
    assert parse_period("0 0 29 2 *").min_gap == 4 * 365 * D
    assert cron_min_gap("0 0 1 * *") == 28 * D  # 1 February to 1 March


@pytest.mark.parametrize(
    ("written", "why"),
    [
        ("* */4 * * *", "every minute during hours [0, 4, 8, 12, 16, 20]"),  # the known bug: not "every 4 hours"
        ("* 3 * * *", "every minute during hours [3]"),
        ("0 0 31 2 *", "never fires"),
        ("61 * * * *", "minute field '61': out of range"),
        ("0 24 * * *", "hour field '24': out of range"),
        ("0 5-1 * * *", "a range goes from low to high"),
        ("*/0 * * * *", "the step after / must be a positive number"),
        ("0 0 * * funday", "not a number"),
        ("1 2 3", "is not a period"),
        ("every ten minutes", "is not a period"),
        ("0m", "longer than zero"),
        (-5, "positive whole number"),
        (1.5, "positive whole number"),
        (True, "true is no period"),
    ],
)
def test_refused_forms_say_why(written: object, why: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_period(written)
    assert why in str(info.value)


def test_a_period_under_the_floor_is_refused_with_the_reason() -> None:
    with pytest.raises(ValidationError) as info:
        Periods.model_validate({"stock_sync": "30s", "catalog_feed": "*/5 * * * *", "full_import": "10m"})
    problems = {str(e["loc"][0]): e["msg"] for e in info.value.errors()}
    assert set(problems) == {"stock_sync", "catalog_feed", "full_import"}  # every one, in one pass
    assert "under the floor of 1m for stock_sync" in problems["stock_sync"]
    assert "stock report" in problems["stock_sync"]
    assert "as often as every 5m, under the floor of 30m" in problems["catalog_feed"]
    assert "whole catalog" in problems["full_import"]
    # at the floor is fine; a cron is held to its shortest gap
    assert Periods.model_validate({"stock_sync": 60, "catalog_feed": "0 */3 * * *"}).catalog_feed.min_gap == 3 * H


def test_unknown_keys_and_zones_are_named() -> None:
    with pytest.raises(ValidationError, match=r"unknown period orders; periods are \['archive_backfill'"):
        Periods.model_validate({"orders": "1m"})
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus'"):
        Periods.model_validate({"timezone": "Mars/Olympus"})
    assert Periods.model_validate({"timezone": "Europe/Moscow"}).timezone == "Europe/Moscow"


CONFIG = """
integrations:
  shop:
    active: false
    systems:
      ms:  {system: moysklad, token: "${TEST_MS_TOKEN}", token_kind: app}
      crm: {system: retailcrm, base_url: "http://127.0.0.1:9", api_key: "${TEST_CRM_KEY}", site: main}
    flows:
      stock: {from: ms, to: crm}
    periods: PERIODS
"""


def test_the_config_check_names_each_bad_period_by_its_key_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_MS_TOKEN", "t")
    monkeypatch.setenv("TEST_CRM_KEY", "k")
    path = tmp_path / "skladbridge.yaml"
    path.write_text(
        CONFIG.replace("PERIODS", '{stock_sync: 20s, catalog_feed: "* */4 * * *", full_import: off}'), encoding="utf-8"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    paths = [p for p, _ in info.value.problems]
    assert paths == ["integrations.shop.periods.stock_sync", "integrations.shop.periods.catalog_feed"]
    assert "every minute during hours" in str(info.value)

    path.write_text(
        CONFIG.replace(
            "PERIODS", '{stock_sync: 5m, stock_reconcile: "0 3 * * *", full_import: off, timezone: Europe/Moscow}'
        ),
        encoding="utf-8",
    )
    integ = load_config(path).integration("shop")
    assert not integ.active
    assert integ.periods.stock_sync.seconds == 300 and integ.periods.stock_reconcile.cron == "0 3 * * *"
    assert not integ.periods.full_import.scheduled and integ.periods.order_upload.seconds == 60


def test_periods_dump_as_written() -> None:
    config = parse_config({"integrations": {"a": {"systems": {}, "periods": {"stock_sync": "15m"}}}})
    dumped = config.model_dump(mode="json")["integrations"]["a"]["periods"]
    assert dumped["stock_sync"] == "15m" and dumped["full_import"] is None and dumped["stock_reconcile"] == "1d"


@pytest.mark.parametrize("written", [99_999_999_999_999, "99999999999999", "400d", 10**20])
def test_a_period_longer_than_a_year_and_a_day_is_refused(written: object) -> None:
    # the scheduler adds the interval to a date: 99999999999999 s ended `serve` in OverflowError
    with pytest.raises(ValueError, match="at most 366d"):
        parse_period(written)


def test_an_infinite_period_is_refused() -> None:
    with pytest.raises(ValueError, match="positive whole number"):  # not an OverflowError from int()
        parse_period(float("inf"))
