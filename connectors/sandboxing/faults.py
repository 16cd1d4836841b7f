"""Faults a sandbox injects, declared as data, and the lost response they can cause.

The front door applies them where the real system would fail: a rate-limit burst at the gate, a
500 or extra latency once a request is admitted, a cut page or a lost response after the handler.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, field

from starlette.responses import Response
from starlette.types import Receive, Scope, Send


@dataclass
class FaultPlan:
    """Faults a sandbox injects. All counts are consumed as they fire; rates are probabilities.

    Attributes:
        rate_limit_burst: the next N requests are refused as rate-limited (429/503 per system).
        server_errors: the next N requests answer 500 (after the rate check, before processing).
        server_error_rate: probability that any request answers 500.
        slow_seconds: extra latency added to every admitted request (it keeps its in-flight place).
        drop_after_write: the next N successful writes are committed, then the response is dropped
            (the client sees a broken connection and must not create a duplicate on retry).
        partial_pages: the next N collection pages lose the second half of their rows, as a reply
            cut short by a proxy would (the client must notice, not take them for the whole page).
        partial_pages_on: only pages whose path contains this are cut (default: any).
        lost_answer_rate: probability that any request is processed and its answer then lost (the
            connection drops, as when a proxy times out): a read must be asked again, a write must
            not be duplicated by the retry.
        rate_limit_rate: probability that any request is refused as rate-limited (429/503 per system).
        drop_after_write_rate: probability that a successful write is committed and its response dropped.
        timeout_rate: probability that an admitted request hangs ``timeout_seconds`` and then loses its
            connection unanswered, not processed (a proxy timing out before the application answered).
        timeout_seconds: how long such a request hangs.
        timeouts, lost_answers: the next N admitted requests time out, or lose their answer after
            being processed (counted faults, so a run is sure to meet them; the rates add to them).
        seed: seed of the random generator behind the rates (deterministic runs).
        fired: the faults injected so far, by kind (``rate_limit``, ``server_error``, ``timeout``,
            ``drop_after_write``, ``lost_answer``, ``partial_page``).
    """

    rate_limit_burst: int = 0
    server_errors: int = 0
    server_error_rate: float = 0.0
    slow_seconds: float = 0.0
    drop_after_write: int = 0
    partial_pages: int = 0
    partial_pages_on: str = ""
    lost_answer_rate: float = 0.0
    rate_limit_rate: float = 0.0
    drop_after_write_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_seconds: float = 1.0
    timeouts: int = 0
    lost_answers: int = 0
    seed: int = 0
    fired: Counter[str] = field(default_factory=Counter)
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        self._rng.seed(self.seed)

    def _take(self, counter: str) -> bool:
        """Consume one of the faults counted by the attribute ``counter``, if any is left."""
        left: int = getattr(self, counter)
        if left > 0:
            setattr(self, counter, left - 1)
        return left > 0

    def _chance(self, rate: float) -> bool:
        return rate > 0 and self._rng.random() < rate

    def _fire(self, kind: str, due: bool) -> bool:
        if due:
            self.fired[kind] += 1
        return due

    def take_rate_limit(self) -> bool:
        return self._fire("rate_limit", self._take("rate_limit_burst") or self._chance(self.rate_limit_rate))

    def take_server_error(self) -> bool:
        return self._fire("server_error", self._take("server_errors") or self._chance(self.server_error_rate))

    def take_timeout(self) -> bool:
        return self._fire("timeout", self._take("timeouts") or self._chance(self.timeout_rate))

    def take_partial_page(self, path: str) -> bool:
        return self._fire("partial_page", self.partial_pages_on in path and self._take("partial_pages"))

    def take_drop_after_write(self) -> bool:
        return self._fire(
            "drop_after_write", self._take("drop_after_write") or self._chance(self.drop_after_write_rate)
        )

    def take_lost_answer(self) -> bool:
        return self._fire("lost_answer", self._take("lost_answers") or self._chance(self.lost_answer_rate))


class DroppedResponse(Exception):
    """Raised while answering after a committed write to simulate a lost response.

    :class:`~connectors.sandboxing.LoopbackServer` closes the connection; ``httpx.ASGITransport``
    surfaces it to the client as an exception, which the HTTP layer treats like a connection error.
    """


class DroppedAfterWrite(Response):
    """Start a 200 whose declared body never arrives, then lose the connection (the write stays)."""

    def __init__(self, media_type: str = "application/json") -> None:
        super().__init__(headers={"Content-Type": media_type, "Content-Length": "4096"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        raise DroppedResponse("response dropped after a committed write (fault injection)")


class NoAnswer(DroppedAfterWrite):
    """A request that hung and lost its connection before the application answered (nothing done)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        raise DroppedResponse("the request timed out unanswered, not processed (fault injection)")


async def sleep_if_slow(plan: FaultPlan) -> None:
    """Apply the plan's extra latency (async, so other requests proceed meanwhile)."""
    if plan.slow_seconds > 0:
        await asyncio.sleep(plan.slow_seconds)
