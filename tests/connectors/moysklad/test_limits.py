"""The dated weight table follows the calendar, identically for the client and the sandbox."""

from __future__ import annotations

from datetime import date

import pytest

from connectors.moysklad.wire.limits import credential_weight, request_weight


@pytest.mark.parametrize(
    ("day", "weight"),
    [
        (date(2026, 5, 11), 1),
        (date(2026, 5, 12), 2),
        (date(2026, 8, 31), 2),
        (date(2026, 9, 1), 3),
        (date(2026, 11, 30), 3),
        (date(2026, 12, 1), 4),
        (date(2027, 6, 1), 4),
    ],
)
def test_user_weight_by_date(day: date, weight: int) -> None:
    assert credential_weight("user", day) == weight


def test_app_tokens_weigh_one_and_draft_apps_four() -> None:
    assert credential_weight("app", date(2027, 1, 1)) == 1
    assert credential_weight("app_draft", date(2026, 4, 12)) == 1
    assert credential_weight("app_draft", date(2026, 4, 13)) == 4


def test_extended_stock_reports_weigh_five_but_current_does_not() -> None:
    day = date(2026, 11, 22)
    assert request_weight("/report/stock/all", "app", day) == 5
    assert request_weight("/api/remap/1.2/report/stock/bystore", "user", day) == 5
    assert request_weight("/report/stock/bystore/current", "app", day) == 1
    assert request_weight("/report/stock/all/current", "user", day) == 3
