"""Virtual time for budget tests: an event loop whose clock jumps instead of waiting.

:class:`VirtualTime` is a :class:`~connectors.http.Clock` and runs coroutines on an asyncio loop
that reads the same clock. When every task is waiting on a timer, the loop's selector moves the
clock straight to the next timer instead of sleeping, so a test of a 3-second window takes
milliseconds and every timestamp is exact: no dependence on how loaded the machine is.
Only for in-process transports (``httpx.MockTransport``, ``httpx.ASGITransport``): real sockets
and threads still take wall time, which this clock does not see.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class _JumpingSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """Polls file descriptors without blocking; the time it would have blocked is added to the clock."""

    def __init__(self, time: VirtualTime) -> None:
        super().__init__()
        self._time = time

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is not None and timeout > 0:
            self._time.now += timeout
            timeout = 0
        return list(super().select(timeout))


class _VirtualLoop(asyncio.SelectorEventLoop):
    def __init__(self, time: VirtualTime) -> None:
        self._virtual = time
        super().__init__(_JumpingSelector(time))

    def time(self) -> float:
        return self._virtual.now


class VirtualTime:
    """A clock (``monotonic``, ``sleep``) and the event loop that runs on it.

    Attributes:
        now: the current virtual time in seconds.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        if not isinstance(asyncio.get_running_loop(), _VirtualLoop):
            raise RuntimeError("virtual sleep outside VirtualTime.run would wait forever")
        await asyncio.sleep(seconds)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` to completion on virtual time (like :func:`asyncio.run`)."""
        with asyncio.Runner(loop_factory=lambda: _VirtualLoop(self)) as runner:
            return runner.run(coro)
