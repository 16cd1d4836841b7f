"""What every sandbox (API emulator) shares: loopback serving, fault injection, request log.

A sandbox is an ASGI app. Tests and the demo run it in-process through ``httpx.ASGITransport``
or on a real loopback socket through :class:`LoopbackServer` (uvicorn in a background thread).
Faults are declared as data (:class:`FaultPlan`) and applied by each sandbox at the point where
the real system would fail: before the request is processed, or after a write was committed
(the response is then dropped, as a lost connection would).
"""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn


@dataclass
class FaultPlan:
    """Faults a sandbox injects. All counts are consumed as they fire; rates are probabilities.

    Attributes:
        rate_limit_burst: the next N requests are refused as rate-limited (429/503 per system).
        server_errors: the next N requests answer 500 (after the rate check, before processing).
        server_error_rate: probability that any request answers 500.
        slow_seconds: extra latency added to every request.
        drop_after_write: the next N successful writes are committed, then the response is dropped
            (the client sees a broken connection and must not create a duplicate on retry).
        partial_pages: the next N collection pages lose the second half of their rows, as a reply
            cut short by a proxy would (the client must notice, not take them for the whole page).
        partial_pages_on: only pages whose path contains this are cut (default: any).
        seed: seed of the random generator behind the rates (deterministic runs).
    """

    rate_limit_burst: int = 0
    server_errors: int = 0
    server_error_rate: float = 0.0
    slow_seconds: float = 0.0
    drop_after_write: int = 0
    partial_pages: int = 0
    partial_pages_on: str = ""
    seed: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        self._rng.seed(self.seed)

    def _take(self, counter: str) -> bool:
        """Consume one of the faults counted by the attribute ``counter``, if any is left."""
        left: int = getattr(self, counter)
        if left > 0:
            setattr(self, counter, left - 1)
        return left > 0

    def take_rate_limit(self) -> bool:
        return self._take("rate_limit_burst")

    def take_server_error(self) -> bool:
        if self._take("server_errors"):
            return True
        return self.server_error_rate > 0 and self._rng.random() < self.server_error_rate

    def take_partial_page(self, path: str) -> bool:
        return self.partial_pages_on in path and self._take("partial_pages")

    def take_drop_after_write(self) -> bool:
        return self._take("drop_after_write")


class DroppedResponse(Exception):
    """Raised inside a sandbox handler after a committed write to simulate a lost response.

    :class:`LoopbackServer` closes the connection; ``httpx.ASGITransport`` surfaces it to the
    client as an exception, which the HTTP layer treats like a connection error.
    """


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the sandbox saw it (for assertions and request counting)."""

    at: float
    method: str
    path: str
    query: str
    status: int
    credential: str
    weight: int = 1


class RequestLog:
    """Bounded, thread-safe log of the requests a sandbox answered."""

    def __init__(self, maxlen: int = 1_000_000) -> None:
        self._items: deque[LoggedRequest] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def add(self, item: LoggedRequest) -> None:
        with self._lock:
            self._items.append(item)

    def __iter__(self) -> Iterator[LoggedRequest]:
        with self._lock:
            return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def count(self, *, path_prefix: str = "", status: int | None = None, method: str | None = None) -> int:
        """Count logged requests matching all the given conditions."""
        return sum(
            1
            for r in self
            if r.path.startswith(path_prefix)
            and (status is None or r.status == status)
            and (method is None or r.method == method)
        )


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LoopbackServer:
    """Serve an ASGI app on 127.0.0.1 in a background thread (a real socket, real HTTP).

    Use as a context manager::

        with LoopbackServer(app) as server:
            httpx.get(server.url + "/entity/store")
    """

    def __init__(self, app: Any, port: int | None = None, log_level: str = "warning") -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level=log_level, lifespan="off",
            access_log=False, timeout_keep_alive=30,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=f"sandbox:{self.port}", daemon=True)

    def start(self) -> LoopbackServer:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"sandbox did not start on port {self.port}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def sleep_if_slow(plan: FaultPlan) -> None:
    """Apply the plan's extra latency (async, so other requests proceed meanwhile)."""
    if plan.slow_seconds > 0:
        await asyncio.sleep(plan.slow_seconds)
