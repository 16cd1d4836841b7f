"""A rate budget shared by every process of a credential through one bucket in Redis.

:class:`RedisBudget` keeps :class:`~connectors.http.budget.RateBudget`'s rules (no window of
``window + margin`` seconds carries more than ``capacity`` units; at most ``max_in_flight``
requests at once), but the bookkeeping lives in three Redis keys, changed only by Lua scripts so
that a check and its booking are one atomic step whoever runs them:

* ``<tag>:spent`` — sorted set of booked units (member ``<id>|<units>``, score = when, in µs);
* ``<tag>:leases`` — sorted set of in-flight places (score = lease expiry, µs); a process killed
  while holding one cannot leak it: the lease lapses after ``lease_seconds`` unless renewed;
* ``<tag>:blocked`` — "no request before" (µs), set by :meth:`penalize` and by headers saying
  nothing is left, so one 429 holds every process.

Every timestamp is Redis's own ``TIME``: the processes' clocks never enter a decision. ``<tag>`` is
a digest of the budget key (system, host, credential fingerprint), never the credential itself;
its ``{…}`` hash tag keeps the three keys in one Redis Cluster slot.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import threading
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

from connectors.http.budget import REDIS_URL_ENV, SYSTEM_CLOCK, Clock, RateBudget
from hub.redaction import first_line

__all__ = ["BudgetUnavailableError", "RedisBudget", "redis_tag"]

#: how long a waiting request sleeps before asking again when every in-flight place is taken
#: (longer than in-process: each look is a round trip, and several processes may be looking)
LEASE_POLL_SECONDS = 0.01
#: the longest it sleeps between such looks while the places stay taken
LEASE_POLL_MAX_SECONDS = 0.05

_UNITS = "local function units(m) return tonumber(string.match(m, '|([^|]+)$')) end\n"
_NOW = "local t = redis.call('TIME')\nlocal now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"

# KEYS: spent, leases, blocked. ARGV: weight, capacity, span µs, max in flight, lease id, lease µs,
# poll µs. Returns {1, now} when taken, {0, µs to wait} when not, {2, poll µs} when every place is taken.
_ACQUIRE = (
    _UNITS
    + _NOW
    + """
local weight, capacity, span = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local blocked = tonumber(redis.call('GET', KEYS[3]) or '0')
if now < blocked then return {0, blocked - now} end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then return {2, tonumber(ARGV[7])} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - span)
local spent = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local used = 0
for i = 1, #spent, 2 do used = used + units(spent[i]) end
if used + weight > capacity and #spent > 0 then
  local need, freed = used + weight - capacity, 0
  for i = 1, #spent, 2 do
    freed = freed + units(spent[i])
    if freed >= need then return {0, math.max(tonumber(spent[i + 1]) + span - now, 1000)} end
  end
  return {0, span}
end
redis.call('ZADD', KEYS[1], now, ARGV[5] .. '|' .. ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.ceil(span / 1000) + 1000)
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[6]), ARGV[5])
redis.call('PEXPIRE', KEYS[2], math.ceil(tonumber(ARGV[6]) / 1000) + 1000)
return {1, now}
"""
)

# KEYS: leases. ARGV: lease id, lease µs. A held lease lives another lease_seconds.
_RENEW = (
    _NOW
    + """
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) / 1000) + 1000)
return 1
"""
)

# KEYS: spent, blocked. ARGV: remaining, reset µs or '', limit or '', capacity, span µs, id.
# RateBudget.observe in Lua: book what the server says someone else spent; block when nothing is left.
_OBSERVE = (
    _UNITS
    + _NOW
    + """
local remaining, reset, span = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[5])
local capacity = tonumber(ARGV[4])
if ARGV[3] ~= '' then capacity = math.min(capacity, tonumber(ARGV[3])) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - span)
local spent = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local used = 0
for i = 1, #spent, 2 do used = used + units(spent[i]) end
local left = capacity - used
if remaining < left then
  local at = now
  if reset then at = math.min(now, now + reset - span) end
  redis.call('ZADD', KEYS[1], at, ARGV[6] .. '|' .. tostring(left - remaining))
  redis.call('PEXPIRE', KEYS[1], math.ceil(span / 1000) + 1000)
end
if remaining <= 0 and reset and reset > 0 then
  local until_ = math.max(tonumber(redis.call('GET', KEYS[2]) or '0'), now + reset)
  redis.call('SET', KEYS[2], string.format('%.0f', until_), 'PX', math.ceil((until_ - now) / 1000) + 1)
end
return 1
"""
)

# KEYS: blocked. ARGV: seconds in µs. No new request anywhere before now + seconds.
_PENALIZE = (
    _NOW
    + """
local until_ = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now + tonumber(ARGV[1]))
redis.call('SET', KEYS[1], string.format('%.0f', until_), 'PX', math.ceil((until_ - now) / 1000) + 1)
return 1
"""
)


class BudgetUnavailableError(RuntimeError):
    """The Redis that shares the rate budgets (``SKLADBRIDGE_REDIS_URL``) cannot be reached."""


def redis_tag(key: Sequence[str], prefix: str = "skladbridge:budget") -> str:
    """The Redis key stem of a budget key: its system in clear, the rest only as a digest."""
    digest = hashlib.sha256("\x00".join(key).encode()).hexdigest()[:24]
    system = key[0] if key else "budget"
    return f"{prefix}:{{{system}:{digest}}}"


def masked_url(url: str) -> str:
    """``url`` without its password (for messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def unavailable(url: str, exc: BaseException) -> BudgetUnavailableError:
    """The one line a user reads: which setting, what failed, what to do."""
    why = first_line(exc)
    return BudgetUnavailableError(
        f"{REDIS_URL_ENV}={masked_url(url)}: Redis does not answer ({why}); the rate budgets are shared "
        f"through it, so nothing is sent without it: start Redis there, or unset {REDIS_URL_ENV} to run "
        "a single process on its own budget"
    )


@dataclass
class _Link:
    """One event loop's Redis client and its scripts (redis.asyncio connections are loop-bound)."""

    client: aioredis.Redis
    acquire: AsyncScript
    renew: AsyncScript
    observe: AsyncScript
    penalize: AsyncScript


class RedisBudget(RateBudget):
    """:class:`RateBudget`'s rules with the bookkeeping in Redis, shared by every process on ``key``.

    Args:
        url: the Redis URL (``redis://host:port/db``).
        key: the budget key (system, host, credential fingerprint); only its digest reaches Redis.
        capacity, window_seconds, max_in_flight, name, margin_seconds: as for :class:`RateBudget`.
        lease_seconds: how long an in-flight place outlives a holder that stopped renewing it.
        prefix: the Redis key prefix (tests use their own).
        check: ping Redis now, so a wrong URL fails at once with :class:`BudgetUnavailableError`.

    Attributes:
        grants: when set to a list, every taken slot appends (Redis time in µs, units): for tests
            and benchmarks that check the window from the bucket's own clock.
    """

    def __init__(
        self,
        url: str,
        key: Sequence[str],
        capacity: float,
        window_seconds: float,
        max_in_flight: int,
        name: str = "budget",
        margin_seconds: float | None = None,
        *,
        lease_seconds: float = 15.0,
        prefix: str = "skladbridge:budget",
        check: bool = True,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        super().__init__(capacity, window_seconds, max_in_flight, name, margin_seconds, clock=clock)
        self.url = url
        self.lease_seconds = lease_seconds
        tag = redis_tag(key, prefix)
        self.keys = (f"{tag}:spent", f"{tag}:leases", f"{tag}:blocked")
        self.grants: list[tuple[int, float]] | None = None
        self._span_us = round((self.window + self.margin) * 1e6)
        self._links: dict[asyncio.AbstractEventLoop, _Link] = {}
        self._links_lock = threading.Lock()
        self._background: set[asyncio.Task[Any]] = set()
        if check:
            self.ping()

    @classmethod
    def like(cls, local: RateBudget, key: Sequence[str], url: str, **options: Any) -> RedisBudget:
        """A shared budget with the parameters of the in-process ``local`` one."""
        return cls(
            url,
            key,
            local.capacity,
            local.window,
            local.max_in_flight,
            local.name,
            local.margin,
            clock=local.clock,
            **options,
        )

    def ping(self) -> None:
        """Raise :class:`BudgetUnavailableError` unless Redis answers (a short blocking check)."""
        try:
            with redis.Redis.from_url(self.url, socket_connect_timeout=2, socket_timeout=2) as client:
                client.ping()
        except (redis.RedisError, OSError, ValueError) as exc:
            raise unavailable(self.url, exc) from exc

    def _link(self) -> _Link:
        loop = asyncio.get_running_loop()
        with self._links_lock:
            link = self._links.get(loop)
            if link is None:
                # a closed loop's connections can never be used again: drop them with it
                for old in [lp for lp in self._links if lp.is_closed()]:
                    del self._links[old]
                client = aioredis.Redis.from_url(self.url, socket_connect_timeout=2, socket_timeout=5)
                link = self._links[loop] = _Link(
                    client, *(client.register_script(s) for s in (_ACQUIRE, _RENEW, _OBSERVE, _PENALIZE))
                )
            return link

    async def _call(self, script: AsyncScript, keys: Sequence[str], args: Sequence[Any]) -> Any:
        try:
            return await script(keys=list(keys), args=list(args))
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            raise unavailable(self.url, exc) from exc

    # -- the Budget interface ------------------------------------------------------------------
    @asynccontextmanager
    async def acquire(self, weight: float = 1.0) -> AsyncIterator[None]:
        """Wait for ``weight`` units and an in-flight lease (renewed while held); release it on exit."""
        weight = min(float(weight), self.capacity)
        link, lease = self._link(), uuid.uuid4().hex
        started = self.clock.monotonic()
        args = (
            repr(weight),
            repr(self.capacity),
            self._span_us,
            self.max_in_flight,
            lease,
            round(self.lease_seconds * 1e6),
            round(LEASE_POLL_SECONDS * 1e6),
        )
        polls = 0
        try:
            while True:
                taken, value = await self._call(link.acquire, self.keys, args)
                if taken == 1:
                    break
                if taken == 2:
                    # every in-flight place is taken: look again, less often the longer it lasts,
                    # and not in step with the other waiters (each look is a round trip)
                    polls += 1
                    wait = min(LEASE_POLL_SECONDS * 2 ** min(polls - 1, 3), LEASE_POLL_MAX_SECONDS)
                    await self.clock.sleep(wait * random.uniform(0.5, 1.5))
                else:
                    polls = 0
                    await self.clock.sleep(value / 1e6)
        except BaseException:
            # Cancelled (or Redis failed) while a call was out: the script may have taken the lease
            # anyway. Give it back now rather than hold a place until it lapses.
            self._forget(link, lease)
            raise
        if self.grants is not None:
            self.grants.append((int(value), weight))
        self.waited_seconds += self.clock.monotonic() - started
        with self._lock:
            self._in_flight += 1
        # Renewing starts only when a request outlasts a third of its lease: a timer costs far
        # less than a task per request, and most requests end long before.
        keeper: list[asyncio.Task[None]] = []
        timer = asyncio.get_running_loop().call_later(
            self.lease_seconds / 3, lambda: keeper.append(asyncio.ensure_future(self._keep(link, lease)))
        )
        try:
            yield
        finally:
            timer.cancel()
            for task in keeper:
                task.cancel()
            with self._lock:
                self._in_flight -= 1
            # Not raising here: the request's own outcome matters more, and the lease lapses anyway.
            try:
                await link.client.zrem(self.keys[1], lease)
            except (redis.RedisError, OSError):
                pass
            except asyncio.CancelledError:
                self._forget(link, lease)
                raise

    def _forget(self, link: _Link, lease: str) -> None:
        """Remove ``lease`` in the background (from code that is being cancelled)."""
        task = asyncio.ensure_future(link.client.zrem(self.keys[1], lease))
        self._background.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._background.discard(t)
            if not t.cancelled():
                t.exception()  # retrieved: a lost release only means the lease lapses by itself

        task.add_done_callback(done)

    slot = acquire

    async def _keep(self, link: _Link, lease: str) -> None:
        """Renew a held lease (long requests: MoySklad answers may take minutes)."""
        lease_us = round(self.lease_seconds * 1e6)
        with suppress(redis.RedisError, OSError):
            while True:
                await link.renew(keys=[self.keys[1]], args=[lease, lease_us])
                await asyncio.sleep(self.lease_seconds / 3)

    async def observe(
        self, remaining: float | None, reset_seconds: float | None = None, limit: float | None = None
    ) -> None:
        """Reconcile the shared bucket with the server's headers (see :meth:`RateBudget.observe`)."""
        if remaining is None:
            return
        reset = "" if reset_seconds is None else round(reset_seconds * 1e6)
        await self._call(
            self._link().observe,
            (self.keys[0], self.keys[2]),
            (
                repr(float(remaining)),
                reset,
                "" if limit is None else repr(float(limit)),
                repr(self.capacity),
                self._span_us,
                uuid.uuid4().hex,
            ),
        )

    async def penalize(self, seconds: float) -> None:
        """Let no new request start for ``seconds``, in any process sharing this budget."""
        await self._call(self._link().penalize, (self.keys[2],), (round(seconds * 1e6),))

    async def aclose(self) -> None:
        """Close this loop's Redis connections (others close with their loops)."""
        loop = asyncio.get_running_loop()
        with self._links_lock:
            link = self._links.pop(loop, None)
        if link is not None:
            await link.client.aclose()
