"""Counting: requests, weight and refusals spent per (system, endpoint), process-wide.

Every attempt is counted, retries included, each with what became of it (refused for rate, 5xx,
no answer, a broken body), so a run's summary shows what the exchange really cost.
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, fields

__all__ = ["EndpointStats", "RequestStats", "endpoint_name", "request_stats", "reset_request_stats"]


@dataclass
class EndpointStats:
    """Requests, weight and refusals spent on one (system, endpoint).

    Attributes:
        requests: every attempt, retries included.
        weight: budget units the attempts cost.
        rate_refusals: attempts the system refused for rate.
        server_errors: attempts answered with 5xx.
        transport_errors: attempts that got no answer (connection errors, timeouts).
        malformed_answers: success answers whose body was broken (cut short, not JSON, partial).
    """

    requests: int = 0
    weight: float = 0.0
    rate_refusals: int = 0
    server_errors: int = 0
    transport_errors: int = 0
    malformed_answers: int = 0

    def __add__(self, other: EndpointStats) -> EndpointStats:
        return EndpointStats(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def __sub__(self, other: EndpointStats) -> EndpointStats:
        return EndpointStats(**{f.name: getattr(self, f.name) - getattr(other, f.name) for f in fields(self)})


class RequestStats:
    """Thread-safe counters of requests and weight by (system, endpoint)."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, str], EndpointStats] = defaultdict(EndpointStats)
        self._lock = threading.Lock()

    def record(
        self,
        system: str,
        endpoint: str,
        weight: float,
        status: int | None,
        *,
        refused: bool = False,
        malformed: bool = False,
    ) -> None:
        """Count one attempt.

        Args:
            status: the HTTP status, None when no answer came.
            refused: the system refused it for rate.
            malformed: a success status whose body was broken.
        """
        with self._lock:
            item = self._data[(system, endpoint)]
            item.requests += 1
            item.weight += weight
            if status is None:
                item.transport_errors += 1
            elif refused:
                item.rate_refusals += 1
            elif status >= 500:
                item.server_errors += 1
            elif malformed:
                item.malformed_answers += 1

    def by_endpoint(self) -> dict[tuple[str, str], EndpointStats]:
        """A snapshot of the counters, by (system, endpoint)."""
        with self._lock:
            return {k: EndpointStats(**vars(v)) for k, v in self._data.items()}

    def total(self, system: str | None = None) -> EndpointStats:
        """The sum over every endpoint (of ``system``, when given)."""
        out = EndpointStats()
        for (sys_name, _), item in self.by_endpoint().items():
            if system is None or sys_name == system:
                out = out + item
        return out

    def systems(self) -> list[str]:
        """The systems with at least one counted request, sorted."""
        return sorted({s for s, _ in self.by_endpoint()})

    def since(self, earlier: Mapping[tuple[str, str], EndpointStats]) -> RequestStats:
        """Return the counts added since the snapshot ``earlier`` (a ``by_endpoint()`` result)."""
        diff = RequestStats()
        for key, now in self.by_endpoint().items():
            diff._data[key] = now - earlier.get(key, EndpointStats())
        return diff

    def reset(self) -> None:
        """Forget every count."""
        with self._lock:
            self._data.clear()


_STATS = RequestStats()


def request_stats() -> RequestStats:
    """The process-wide request counters (flows snapshot them; benchmarks read them)."""
    return _STATS


def reset_request_stats() -> None:
    """Forget every process-wide count (tests, benchmarks)."""
    _STATS.reset()


_ID_SEGMENT = re.compile(r"/(?:[0-9a-fA-F]{8}-[0-9a-fA-F-]{27}|\d+)(?=/|$)")


def endpoint_name(path: str) -> str:
    """``/entity/product/6a8f.../images`` -> ``/entity/product/{id}/images``."""
    return _ID_SEGMENT.sub("/{id}", path.split("?", 1)[0])
