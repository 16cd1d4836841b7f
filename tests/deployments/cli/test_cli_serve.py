"""What ``skladbridge serve`` prints of its deployments, against what ``skladbridge deploy`` prints."""

from __future__ import annotations

import pytest

from deployments.cli.serve import _schedule
from deployments.schedule.deploy import Planned, _detail, schedules
from deployments.schedule.exchanges import exchange
from hub.periods import parse_period


@pytest.mark.parametrize(
    ("period", "timezone", "words"),
    [
        ("3h", "UTC", "every 3h"),
        (10800, "UTC", "every 3h"),
        ("1h30m", "UTC", "every 1h30m"),
        ("0 3 * * *", "Europe/Moscow", "cron 0 3 * * * Europe/Moscow"),
    ],
)
def test_serve_words_a_schedule_as_deploy_does(period: object, timezone: str, words: str) -> None:
    planned = Planned(exchange("stock-sync"), "demo", "demo", parse_period(period), timezone)
    served = [_schedule(s) for s in schedules(planned)]
    assert served == [words] == [_detail(planned)]
