"""Building blocks of an emulated API's rules: error answers, replies, route tables, quotas, credentials."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from starlette.requests import Request


class ApiRefusal(Exception):
    """An error answer, raised by any front-door hook or handler; the front door renders ``payload()``.

    Systems subclass it for their own error envelope (MoySklad's ``errors[]``, retailCRM's
    ``errorMsg``); ``status`` may be 200 for APIs that put errors in an envelope (Horoshop).
    """

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, dict(headers or {})

    def payload(self) -> Any:
        """The error body (default: ``{"error": message}``)."""
        return {"error": self.message}


@dataclass(frozen=True)
class Reply:
    """What a route answers, before the system's ``render`` encodes it.

    ``wrote`` marks a committed write, so a ``drop_after_write`` fault can lose the response after it.
    """

    status: int
    payload: Any = None
    wrote: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)


H = TypeVar("H")


@dataclass(frozen=True)
class ApiRoute(Generic[H]):
    """One row of a route table: method, path pattern (matched whole), handler, whether it writes."""

    method: str
    pattern: re.Pattern[str]
    handler: H
    writes: bool = False


class RouteTable(Generic[H]):
    """Path → handler, first match wins; tells a known path with another method from an unknown one.

    Rows are ``(method, pattern, handler, writes)``; the pattern must match the whole path.
    """

    def __init__(self, rows: Iterable[tuple[str, str, H, bool]]) -> None:
        self.routes = [ApiRoute(m, re.compile(p), h, w) for m, p, h, w in rows]

    def find(self, method: str, path: str) -> tuple[ApiRoute[H], re.Match[str]] | None:
        """The first route of ``method`` whose pattern matches ``path``, with the match."""
        for route in self.routes:
            match = route.pattern.fullmatch(path)
            if match is not None and route.method == method:
                return route, match
        return None

    def knows(self, path: str) -> bool:
        """True when a route of some method matches ``path`` (a 405 rather than a 404)."""
        return any(route.pattern.fullmatch(path) for route in self.routes)


class WindowQuota:
    """``limit`` requests per ``seconds`` per key, in a sliding window (keyCRM's 60/min, Horoshop's hour)."""

    def __init__(self, limit: int, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.seconds, self._clock = limit, seconds, clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()  # a LoopbackServer thread and the test thread may both call

    def take(self, key: str) -> float | None:
        """Count one request of ``key``: None when admitted, else the seconds until one would be."""
        with self._lock:
            now, seen = self._clock(), self._seen.setdefault(key, deque())
            while seen and seen[0] <= now - self.seconds:
                seen.popleft()
            if len(seen) >= self.limit:
                return seen[0] + self.seconds - now
            seen.append(now)
            return None


def credential_digest(secret: str) -> str:
    """A short digest of a secret: tells callers apart in the log without recording the secret."""
    return hashlib.sha256(secret.encode()).hexdigest()[:8] if secret else ""


def bearer_token(request: Request) -> str:
    """The token of an ``Authorization: Bearer …`` header, or "" (keyCRM's scheme, among many)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value if scheme.lower() == "bearer" else ""
