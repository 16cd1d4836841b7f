"""The ``{status, response}`` envelope every Horoshop function answers with, and what each status means.

Errors come with HTTP 200 (crm.md D): the envelope's ``status`` says what happened. This module
maps each to the HTTP status it stands for, so the client looks the answer up in the shared
response table of :mod:`connectors.http` like any other system's (401 → :class:`AuthError`, 429 →
rate-limited, 5xx → retried ...), instead of a table of its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

OK = "OK"
WARNING = "WARNING"  # partial success: per-record ``response.log``
EMPTY = "EMPTY"  # nothing matched (not an error)
ERROR = "ERROR"
EXCEPTION = "EXCEPTION"
UNAUTHORIZED = "UNAUTHORIZED"
AUTHORIZATION_ERROR = "AUTHORIZATION_ERROR"
UNDEFINED_FUNCTION = "UNDEFINED_FUNCTION"  # the module is missing (old version / not enabled): not "no data"
HTTP_ERROR = "HTTP_ERROR"  # seen in the field with ``{code, message}`` (D.1)

#: envelope statuses that carry data
SUCCESSES = frozenset({OK, WARNING, EMPTY})
#: envelope status -> the HTTP status it stands for in the shared response table
EQUIVALENT_STATUS: Mapping[str, int] = {
    UNAUTHORIZED: 401,
    AUTHORIZATION_ERROR: 401,
    UNDEFINED_FUNCTION: 404,
    ERROR: 400,
    EXCEPTION: 500,
}
#: an HTML page instead of JSON: the shop is down, the API is off, or an anti-bot page (retryable)
SHOP_UNAVAILABLE = 503
#: the hour's quota is spent (as an envelope or as HTTP 429)
QUOTA_EXCEEDED = 429
#: "You hour requests limit has been exceeded. Retry after N seconds" (two importers, D.1)
_QUOTA_TEXT = re.compile(r"hour\w*\s+requests?\s+limit.*?exceeded.*?(\d+)\s*sec", re.IGNORECASE | re.DOTALL)
_ANY_SECONDS = re.compile(r"(\d+)\s*sec", re.IGNORECASE)


@dataclass(frozen=True)
class Envelope:
    """One answer: its ``status`` and ``response`` (an object, a list, or absent)."""

    status: str
    response: Any = None

    @property
    def ok(self) -> bool:
        return self.status in SUCCESSES

    def message(self) -> str:
        """The error text the shop gave, if any."""
        if isinstance(self.response, Mapping):
            for key in ("message", "error", "text"):
                if self.response.get(key):
                    return str(self.response[key])
        return ""

    def log(self) -> list[dict[str, Any]]:
        """The per-record log of a ``WARNING`` (or ``OK``) answer to a bulk function."""
        rows = self.response.get("log") if isinstance(self.response, Mapping) else None
        return [dict(r) for r in rows if isinstance(r, Mapping)] if isinstance(rows, list) else []


def is_html(text: str) -> bool:
    """Whether an answer is a web page rather than the API's JSON."""
    head = text.lstrip()[:200].lower()
    return head.startswith("<") or "<html" in head or "<script" in head


def parse(text: str) -> Envelope:
    """The envelope of an answer body.

    Raises:
        ValueError: not JSON, or JSON without a string ``status``.
    """
    body = json.loads(text.lstrip("\ufeff"))
    if not isinstance(body, Mapping) or not isinstance(body.get("status"), str):
        raise ValueError("not a Horoshop envelope: no status")
    return Envelope(str(body["status"]), body.get("response"))


def quota_wait(envelope: Envelope) -> float | None:
    """Seconds to wait when the envelope says the hour's quota is spent, else None.

    Two forms are seen (D.1): ``response.code == 429`` with the message, and the message alone.
    """
    if envelope.ok:
        return None
    text = envelope.message()
    found = _QUOTA_TEXT.search(text)
    if found:
        return float(found.group(1))
    code = envelope.response.get("code") if isinstance(envelope.response, Mapping) else None
    if str(code) == str(QUOTA_EXCEEDED):
        seconds = _ANY_SECONDS.search(text)
        return float(seconds.group(1)) if seconds else 60.0
    return None


def equivalent_status(envelope: Envelope) -> int | None:
    """The HTTP status an error envelope stands for (None: a success)."""
    if envelope.ok:
        return None
    if quota_wait(envelope) is not None:
        return QUOTA_EXCEEDED
    if envelope.status == HTTP_ERROR and isinstance(envelope.response, Mapping):
        try:
            return int(envelope.response.get("code") or 502)
        except (TypeError, ValueError):
            return 502
    return EQUIVALENT_STATUS.get(envelope.status, 400)


def quota_message(seconds: float) -> dict[str, Any]:
    """The envelope the field reports show for a spent hourly quota (the sandbox answers it)."""
    return {
        "status": ERROR,
        "response": {
            "code": QUOTA_EXCEEDED,
            "message": f"You hour requests limit has been exceeded. Retry after {int(seconds)} seconds",
        },
    }
