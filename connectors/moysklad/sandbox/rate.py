"""The sandbox's rate gate: MoySklad's weighted bucket, parallel limits and the ban rule.

Model (documented in [LIM]; the refill curve is not published, so we take the usual reading of
"45 units per 3 s"): a token bucket per credential holding 45 units, refilling continuously at
45/3 units per second. A request that finds fewer units than its weight is refused with 429 and
error 1049, ``X-Lognex-Retry-After`` saying in ms when enough units will be back. More than 5
requests in flight for one credential (or 20 for the account) is refused with 1073 and
``X-Lognex-Auth: 429005``, without ``Retry-After``. More than 200 refusals within a minute is
what gets a real user banned: the sandbox records it in ``banned`` so tests can assert a client
never gets near it.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from connectors.moysklad.wire.limits import (
    BAN_REFUSALS_PER_MINUTE,
    BUCKET_CAPACITY,
    BUCKET_WINDOW_SECONDS,
    MAX_IN_FLIGHT_PER_ACCOUNT,
    MAX_IN_FLIGHT_PER_CREDENTIAL,
)


@dataclass
class Bucket:
    """One credential's units and in-flight count."""

    tokens: float = BUCKET_CAPACITY
    stamp: float = 0.0
    in_flight: int = 0


@dataclass(frozen=True)
class Verdict:
    """The gate's answer: admitted (``code`` 0) or refused with 1049/1073, and the headers."""

    code: int
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def admitted(self) -> bool:
        """True when the request may proceed."""
        return self.code == 0


class RateGate:
    """Thread-safe bucket-per-credential gate (the sandbox may serve from several threads)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, Bucket] = {}
        self._account_in_flight = 0
        self._refusals: deque[float] = deque()
        self.refused = 0
        self.banned = False
        self.max_refusals_per_minute = 0

    def _bucket(self, credential: str, now: float) -> Bucket:
        bucket = self._buckets.get(credential)
        if bucket is None:
            bucket = self._buckets[credential] = Bucket(stamp=now)
        rate = BUCKET_CAPACITY / BUCKET_WINDOW_SECONDS
        bucket.tokens = min(BUCKET_CAPACITY, bucket.tokens + (now - bucket.stamp) * rate)
        bucket.stamp = now
        return bucket

    @staticmethod
    def _headers(bucket: Bucket) -> dict[str, str]:
        rate = BUCKET_CAPACITY / BUCKET_WINDOW_SECONDS
        reset_ms = math.ceil((BUCKET_CAPACITY - bucket.tokens) / rate * 1000)
        return {
            "X-RateLimit-Limit": str(int(BUCKET_CAPACITY)),
            "X-RateLimit-Remaining": str(max(0, math.floor(bucket.tokens))),
            "X-Lognex-Retry-TimeInterval": str(int(BUCKET_WINDOW_SECONDS * 1000)),
            "X-Lognex-Reset": str(max(0, reset_ms)),
        }

    def enter(self, credential: str, weight: float, *, forced_refusal: bool = False) -> Verdict:
        """Admit a request (charge ``weight``, count it in flight) or refuse it.

        Args:
            credential: the bucket key (one per user or solution token).
            weight: units the request costs.
            forced_refusal: a fault-injected 429 burst: refused as 1049 whatever the bucket says.
        """
        with self._lock:
            now = self._clock()
            bucket = self._bucket(credential, now)
            if bucket.in_flight >= MAX_IN_FLIGHT_PER_CREDENTIAL or (
                self._account_in_flight >= MAX_IN_FLIGHT_PER_ACCOUNT
            ):
                self._refuse(now)
                return Verdict(1073, {"X-Lognex-Auth": "429005"})
            if forced_refusal or bucket.tokens < weight:
                self._refuse(now)
                rate = BUCKET_CAPACITY / BUCKET_WINDOW_SECONDS
                wait_ms = max(1, math.ceil((weight - bucket.tokens) / rate * 1000))
                headers = self._headers(bucket)
                headers["X-Lognex-Retry-After"] = str(wait_ms)
                headers["X-Lognex-Reset"] = str(wait_ms)
                return Verdict(1049, headers)
            bucket.tokens -= weight
            bucket.in_flight += 1
            self._account_in_flight += 1
            return Verdict(0, self._headers(bucket))

    def leave(self, credential: str) -> None:
        """The admitted request finished (its in-flight place is free again)."""
        with self._lock:
            bucket = self._buckets.get(credential)
            if bucket is not None and bucket.in_flight > 0:
                bucket.in_flight -= 1
                self._account_in_flight -= 1

    def _refuse(self, now: float) -> None:
        self.refused += 1
        self._refusals.append(now)
        while self._refusals and self._refusals[0] < now - 60:
            self._refusals.popleft()
        self.max_refusals_per_minute = max(self.max_refusals_per_minute, len(self._refusals))
        if len(self._refusals) > BAN_REFUSALS_PER_MINUTE:
            self.banned = True
