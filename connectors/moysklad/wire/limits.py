"""MoySklad's published limits as data: one table shared by the client and the sandbox.

The weight of a request follows the calendar ([LIM], edited 2026-02-11 and 2026-04-30): user
credentials (login/password or a user token) get dearer on fixed dates, solution (app) tokens
stay at 1, and the extended stock reports cost 5 whatever the credential. Keeping the dated table
here means the weight changes on the right day without a code change, and the client can never
pace to a different rule than the sandbox enforces.
"""

from __future__ import annotations

from datetime import date
from typing import Final, Literal

TokenKind = Literal["user", "app", "app_draft"]

DEFAULT_BASE_URL: Final = "https://api.moysklad.ru/api/remap/1.2"

#: the weighted bucket: this many units ...
BUCKET_CAPACITY: Final = 45.0
#: ... per this many seconds, per user or per solution (since 2026-02-16)
BUCKET_WINDOW_SECONDS: Final = 3.0
#: parallel requests per user or solution, and per account
MAX_IN_FLIGHT_PER_CREDENTIAL: Final = 5
MAX_IN_FLIGHT_PER_ACCOUNT: Final = 20
#: more than this many 429 refusals within a minute switches the user's API access off
BAN_REFUSALS_PER_MINUTE: Final = 200
#: items per page, and items per array in a request body (413 above it)
MAX_PAGE_LIMIT: Final = 1000
MAX_ARRAY_ITEMS: Final = 1000
#: expand (and fields) only work when limit is at most this
MAX_EXPAND_LIMIT: Final = 100

#: (first day, weight) for login/password and user-token requests; weight 1 before the first row
USER_WEIGHTS: Final[tuple[tuple[date, int], ...]] = (
    (date(2026, 5, 12), 2),
    (date(2026, 9, 1), 3),
    (date(2026, 12, 1), 4),
)
#: a solution still in status draft / under moderation pays 4 from this day
DRAFT_APP_WEIGHTS: Final[tuple[tuple[date, int], ...]] = ((date(2026, 4, 13), 4),)
#: the extended stock reports cost this much whatever the credential
EXTENDED_STOCK_REPORT_WEIGHT: Final = 5
EXTENDED_STOCK_REPORT_PATHS: Final = ("/report/stock/all", "/report/stock/bystore")


def _dated(table: tuple[tuple[date, int], ...], today: date) -> int:
    weight = 1
    for since, value in table:
        if today >= since:
            weight = value
    return weight


def credential_weight(token_kind: TokenKind, today: date) -> int:
    """Weight of an ordinary request made with this kind of credential on ``today``."""
    if token_kind == "app":
        return 1
    if token_kind == "app_draft":
        return _dated(DRAFT_APP_WEIGHTS, today)
    return _dated(USER_WEIGHTS, today)


def is_extended_stock_report(path: str) -> bool:
    """True for ``/report/stock/all`` and ``/report/stock/bystore`` (not their ``/current``)."""
    clean = path.rstrip("/")
    return any(clean.endswith(p) for p in EXTENDED_STOCK_REPORT_PATHS)


def request_weight(path: str, token_kind: TokenKind, today: date) -> int:
    """Units a request to ``path`` takes from the 45-unit bucket.

    Args:
        path: the API path (with or without the ``/api/remap/1.2`` prefix).
        token_kind: ``user`` (login/password or user token), ``app`` (solution token) or
            ``app_draft`` (a solution in draft or under moderation).
        today: the calendar day the request is made (Moscow date in production).
    """
    if is_extended_stock_report(path):
        return EXTENDED_STOCK_REPORT_WEIGHT
    return credential_weight(token_kind, today)
