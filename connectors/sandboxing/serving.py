"""Running a sandbox and seeing what it served: the request log and a loopback server."""

from __future__ import annotations

import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the sandbox saw it; ``status`` 0 means the answer was lost (dropped)."""

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
            app,
            host="127.0.0.1",
            port=self.port,
            log_level=log_level,
            lifespan="off",
            access_log=False,
            timeout_keep_alive=30,
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
