"""MoySklad's wire time (Moscow, no offset) converts to and from aware UTC in one place, exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pandas as pd
import pytest

from connectors.moysklad.client import moscow_filter
from connectors.moysklad.convert.orders import _moscow
from connectors.moysklad.sandbox.state import moscow, parse_moscow_filter
from connectors.moysklad.wire.moscow_time import format_moscow, moscow_today, parse_moscow

UPDATED = datetime(2026, 3, 25, 14, 44, 31, 829000, tzinfo=UTC)


def test_wire_time_is_moscow_without_offset_and_parses_back() -> None:
    assert format_moscow(UPDATED) == moscow_filter(UPDATED) == "2026-03-25 17:44:31"
    assert format_moscow(UPDATED, milliseconds=True) == moscow(UPDATED) == "2026-03-25 17:44:31.829"
    assert parse_moscow("2026-03-25 17:44:31.829") == parse_moscow_filter("2026-03-25 17:44:31.829") == UPDATED
    assert parse_moscow("2026-03-25 17:44") == UPDATED.replace(second=0, microsecond=0)
    # any zone in, the same instant out
    assert format_moscow(UPDATED.astimezone(timezone(timedelta(hours=-5)))) == "2026-03-25 17:44:31"


def test_a_naive_time_or_a_foreign_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        format_moscow(datetime(2026, 3, 25, 17, 44))
    with pytest.raises(ValueError, match="not a MoySklad timestamp"):
        parse_moscow("25.03.2026 17:44")


def test_the_moscow_day_turns_three_hours_before_utcs() -> None:
    assert str(moscow_today(datetime(2026, 12, 31, 20, 59, tzinfo=UTC))) == "2026-12-31"
    assert str(moscow_today(datetime(2026, 12, 31, 21, 0, tzinfo=UTC))) == "2027-01-01"


def test_canonical_timestamps_of_documents_are_written_in_moscow_time() -> None:
    assert _moscow(pd.Timestamp(UPDATED)) == "2026-03-25 17:44:31"
    assert _moscow(None) is None
