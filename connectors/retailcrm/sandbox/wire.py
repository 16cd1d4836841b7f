"""Wire rules of the emulated retailCRM API: parameters in, envelopes out.

* GET parameters use PHP brackets (``filter[ids][]=1&filter[sinceId]=5``); :func:`parse_brackets`
  turns them into nested dicts/lists as PHP would.
* POST bodies are form-encoded; nested structures arrive as a JSON string in one field
  (``order=``, ``offers=``...); :meth:`Call.json_field` decodes one and answers retailCRM's error
  when it is missing or malformed.
* Every answer is the envelope ``{success, ...}``; errors are ``{success: false, errorMsg, errors?}``.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

from connectors.sandboxing import ApiRefusal

#: the page sizes retailCRM accepts on list methods (A.4)
PAGE_LIMITS = (20, 50, 100)

_BRACKETS = re.compile(r"\[([^\]]*)\]")

# What nginx answers when its limit_req refuses a request: retailCRM's 503 is this page, not a
# JSON envelope [inferred: 503 is nginx limit_req's default status]. Clients must therefore check
# 503 before treating an HTML body as "account does not exist".
RATE_LIMIT_HTML = (
    "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
    "<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
#: the page a non-existent account (subdomain) answers with (php ErrorTest: HTML body, HTTP 405)
NO_ACCOUNT_HTML = (
    "<html>\r\n<head><title>405 Not Allowed</title></head>\r\n<body>\r\n"
    "<center><h1>405 Not Allowed</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


class ApiError(ApiRefusal):
    """An error answer: HTTP status, ``errorMsg`` and optional ``errors`` (object or array)."""

    def __init__(self, status: int, message: str, errors: dict[str, str] | list[str] | None = None) -> None:
        super().__init__(status, message)
        self.errors = errors

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"success": False, "errorMsg": self.message}
        if self.errors:
            body["errors"] = self.errors
        return body


def not_found() -> ApiError:
    return ApiError(404, "Not found")


def validation(errors: dict[str, str] | list[str]) -> ApiError:
    return ApiError(400, "Errors in the entity format", errors)


def site_refusal(site: str, account_sites: Mapping[str, Any]) -> ApiError:
    """A ``site`` the key may not use: another key's store is "Access denied." (403, the official
    clients' text); a code the account does not have is a 400 [inferred: crm.md gives no text for it;
    worded like the API's other "<Entity> with code … not found." answers]."""
    if site in account_sites:
        return ApiError(403, "Access denied.")
    return ApiError(400, f'Site with code "{site}" not found.')


def parse_brackets(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Nest PHP-style bracketed keys: ``a[b][]=1`` → ``{"a": {"b": ["1"]}}``."""
    out: dict[str, Any] = {}
    for raw_key, value in pairs:
        head, _, rest = raw_key.partition("[")
        keys = [head] + (_BRACKETS.findall("[" + rest) if rest else [])
        node: Any = out
        for i, key in enumerate(keys):
            last = i == len(keys) - 1
            if key == "":
                if not isinstance(node, list):
                    break  # a[]=1 after a[x]=1: PHP would overwrite; ignoring is good enough here
                if last:
                    node.append(value)
                    break
                node.append({})
                node = node[-1]
                continue
            if not isinstance(node, dict):
                break
            if last:
                node[key] = value
            else:
                nxt = keys[i + 1]
                default: Any = [] if nxt == "" else {}
                if not isinstance(node.get(key), dict | list):
                    node[key] = default
                node = node[key]
    return out


async def read_params(request: Request) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """Query pairs (repeated keys kept, for PHP brackets) and the form of a POST."""
    query = parse_qsl(request.url.query, keep_blank_values=True)
    if request.method != "POST":
        return query, {}
    return query, dict(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True))


def as_list(value: Any) -> list[str]:
    """A filter value that may be a scalar, a list or a PHP-indexed dict, as a list of strings."""
    if value is None or value == "":
        return []
    if isinstance(value, dict):
        return [str(v) for v in value.values()]
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


@dataclass
class Call:
    """One API call as handlers see it: path parameters, query, form and the caller."""

    method: str
    args: tuple[str, ...]
    query: dict[str, Any]
    form: dict[str, str]
    api_key: str
    sites: tuple[str, ...]
    extra: dict[str, Any] = field(default_factory=dict)

    def param(self, name: str, default: str | None = None) -> str | None:
        """A scalar parameter from the form (POST) or the query string."""
        value = self.form.get(name, self.query.get(name, default))
        return value if value is None or isinstance(value, str) else default

    def filters(self) -> dict[str, Any]:
        flt = self.query.get("filter")
        return flt if isinstance(flt, dict) else {}  # the python client sends filter=None

    def json_field(self, name: str) -> Any:
        """Decode a form field carrying JSON, with retailCRM's errors when absent or broken."""
        raw = self.form.get(name)
        if raw is None or raw == "":
            raise ApiError(400, f"Parameter '{name}' is missing")
        try:
            return json.loads(raw)
        except ValueError:
            raise ApiError(400, f"Parameter '{name}' must be a valid JSON") from None

    def page(self, default_limit: int = 20) -> tuple[int, int]:
        """``(limit, page)`` validated as retailCRM does: limit ∈ 20/50/100, page ≥ 1."""
        try:
            limit = int(self.param("limit") or default_limit)
            page = int(self.param("page") or 1)
        except ValueError:
            raise ApiError(400, "Errors in the input parameters", {"limit": "Invalid value"}) from None
        if limit not in PAGE_LIMITS:
            raise ApiError(
                400,
                "Errors in the input parameters",
                {"limit": "The value you selected is not a valid choice (20, 50, 100)."},
            )
        if page < 1:
            raise ApiError(400, "Errors in the input parameters", {"page": "This value should be 1 or more."})
        return limit, page


def paginate(items: list[Any], limit: int, page: int) -> tuple[list[Any], dict[str, int]]:
    """Slice one page and build retailCRM's ``pagination`` object."""
    total = len(items)
    start = (page - 1) * limit
    return items[start : start + limit], {
        "limit": limit,
        "totalCount": total,
        "currentPage": page,
        "totalPageCount": max(1, math.ceil(total / limit)) if total else 0,
    }


class TokenBucket:
    """Per-key request budget: ``rate`` tokens a second, bursts up to ``rate`` (retailCRM: 10 rps).

    Modelled as a token bucket rather than a fixed one-second window so that a client pacing
    itself with the same bucket is never refused [inferred: the server uses nginx limit_req-like
    smoothing; the exact algorithm is not documented]. ``jitter_seconds`` forgives requests that
    arrive a little closer together than they were sent (network delay varies by milliseconds);
    it does not raise the sustained rate.
    """

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic, jitter_seconds: float = 0.02) -> None:
        self.rate = rate
        self._clock = clock
        self._floor = 1.0 - jitter_seconds * rate
        self._tokens: dict[str, tuple[float, float]] = {}

    def take(self, key: str) -> bool:
        now = self._clock()
        tokens, at = self._tokens.get(key, (self.rate, now))
        tokens = min(self.rate, tokens + (now - at) * self.rate)
        if tokens < self._floor:
            self._tokens[key] = (tokens, now)
            return False
        self._tokens[key] = (tokens - 1.0, now)
        return True
