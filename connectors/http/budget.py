"""Rate budgets: how many requests of what weight may start, shared by every client of a credential.

:class:`Budget` is the interface a client paces itself through: ``acquire`` a slot for a request
of some weight, ``observe`` the server's rate headers, ``penalize`` when the server says back off.
:class:`RateBudget` is the in-process implementation; one that several processes share (Redis,
PostgreSQL) implements the same three calls. Time comes from an injected :class:`Clock`, so tests
run budgets on virtual time instead of the wall clock.

:class:`RateBudget` is a weighted sliding-window budget plus an in-flight cap. It is stricter than
a token bucket: no window of ``window_seconds`` ever carries more than ``capacity`` units, so a
server that counts either way never refuses us in steady state.

Which budget a client gets — this process's own, or with ``SKLADBRIDGE_REDIS_URL`` set one Redis
bucket (:mod:`connectors.http.redis_budget`) every process of the hub shares — is
:mod:`connectors.http.budgets`' business.
"""

from __future__ import annotations

import asyncio
import bisect
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

__all__ = ["REDIS_URL_ENV", "SYSTEM_CLOCK", "Budget", "Clock", "RateBudget", "SystemClock"]

#: how long a request waits before looking again when every in-flight place is taken
IN_FLIGHT_POLL_SECONDS = 0.005
#: the process setting naming the Redis that every process shares its budgets through
REDIS_URL_ENV = "SKLADBRIDGE_REDIS_URL"


class Clock(Protocol):
    """Monotonic time and a matching async sleep."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass on this clock."""
        ...


class SystemClock:
    """The real clock: :func:`time.monotonic` and :func:`asyncio.sleep`."""

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


SYSTEM_CLOCK = SystemClock()


class Budget(Protocol):
    """What a client needs of a rate budget.

    Attributes:
        max_in_flight: requests allowed at once (clients size connection pools and paging by it).
    """

    max_in_flight: int

    def acquire(self, weight: float = 1.0) -> AbstractAsyncContextManager[None]:
        """Wait until a request of ``weight`` units may start; hold an in-flight place until exit."""
        ...

    async def observe(
        self, remaining: float | None, reset_seconds: float | None = None, limit: float | None = None
    ) -> None:
        """Reconcile with the server's own count (its rate-limit headers)."""
        ...

    async def penalize(self, seconds: float) -> None:
        """Let no new request start for ``seconds`` (the server refused one for rate)."""
        ...


class RateBudget:
    """Weighted sliding-window budget plus an in-flight cap; thread- and event-loop-safe.

    Args:
        capacity: units allowed in any window of ``window_seconds``.
        window_seconds: the window length the server counts over.
        max_in_flight: requests allowed at once.
        name: used in logs.
        margin_seconds: extra window length covering network jitter between our send time and the
            server's arrival time (so a request sent just after the window cannot land inside it).
        clock: where time comes from (default: the system clock).
    """

    def __init__(
        self,
        capacity: float,
        window_seconds: float,
        max_in_flight: int,
        name: str = "budget",
        margin_seconds: float | None = None,
        *,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if capacity <= 0 or window_seconds <= 0 or max_in_flight <= 0:
            raise ValueError("capacity, window_seconds and max_in_flight must be positive")
        self.capacity = float(capacity)
        self.window = float(window_seconds)
        self.margin = window_seconds * 0.05 if margin_seconds is None else margin_seconds
        self.max_in_flight = max_in_flight
        self.name = name
        self.clock = clock
        self._spent: deque[tuple[float, float]] = deque()
        self._in_flight = 0
        self._blocked_until = float("-inf")
        self._lock = threading.Lock()
        self.waited_seconds = 0.0

    # -- bookkeeping (call with the lock held) -----------------------------------------------
    def _used(self, now: float) -> float:
        horizon = now - self.window - self.margin
        while self._spent and self._spent[0][0] <= horizon:
            self._spent.popleft()
        return sum(w for _, w in self._spent)

    def _try_take(self, weight: float, now: float) -> float:
        """Take ``weight`` now and return 0, or return how long to wait before trying again."""
        if now < self._blocked_until:
            return self._blocked_until - now
        if self._in_flight >= self.max_in_flight:
            return IN_FLIGHT_POLL_SECONDS
        used = self._used(now)
        if used + weight <= self.capacity or not self._spent:
            self._spent.append((now, weight))
            self._in_flight += 1
            return 0.0
        # wait until enough of the oldest entries leave the window
        free_needed = used + weight - self.capacity
        freed = 0.0
        for at, w in self._spent:
            freed += w
            if freed >= free_needed:
                return max(at + self.window + self.margin - now, 0.001)
        return self.window

    # -- the Budget interface ------------------------------------------------------------------
    @asynccontextmanager
    async def acquire(self, weight: float = 1.0) -> AsyncIterator[None]:
        """Wait for ``weight`` units and an in-flight place; release the place on exit."""
        weight = min(float(weight), self.capacity)
        started = self.clock.monotonic()
        while True:
            with self._lock:
                wait = self._try_take(weight, self.clock.monotonic())
            if wait == 0.0:
                break
            await self.clock.sleep(wait)
        self.waited_seconds += self.clock.monotonic() - started
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    #: the name this budget's slot had before the :class:`Budget` interface
    slot = acquire

    async def observe(
        self,
        remaining: float | None,
        reset_seconds: float | None = None,
        limit: float | None = None,
    ) -> None:
        """Reconcile with the server's view (its rate-limit headers).

        If the server has less left than we think, someone else spends this credential's budget
        (another process or app): book the difference as spent now. When nothing is left, block
        until the server's reset.
        """
        if remaining is None:
            return
        now = self.clock.monotonic()
        with self._lock:
            capacity = self.capacity if limit is None else min(self.capacity, float(limit))
            ours_left = capacity - self._used(now)
            if remaining < ours_left:
                # Book the difference so it leaves our window when the server says its limit resets
                # (or after a whole window when it does not say).
                at = now if reset_seconds is None else min(now, now + reset_seconds - self.window - self.margin)
                bisect.insort(self._spent, (at, ours_left - remaining))
            if remaining <= 0 and reset_seconds:
                self._blocked_until = max(self._blocked_until, now + reset_seconds)

    async def penalize(self, seconds: float) -> None:
        """Let no new request start for ``seconds`` (after a refusal)."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self.clock.monotonic() + seconds)

    @property
    def in_flight(self) -> int:
        """Requests holding a place right now."""
        return self._in_flight
