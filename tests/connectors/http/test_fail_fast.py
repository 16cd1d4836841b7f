"""A closed port or an unknown host fails at the first attempt; a refusal where a server answered
before is a restart, retried as before. Real sockets, real httpx (no mock transport)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from connectors.http import (
    BaseClient,
    ConnectorError,
    RateBudget,
    RetryPolicy,
    TransientError,
    UnreachableError,
    request_stats,
)

FAST = RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.01)


class Client(BaseClient):
    system: ClassVar[str] = "test"


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(base_url: str) -> ConnectorError | None:
    async def go() -> ConnectorError | None:
        async with Client(base_url, budget=RateBudget(100, 1, 10), retry=FAST) as client:
            try:
                await client.request("GET", "/entity/x")
            except ConnectorError as exc:
                return exc
        return None

    return asyncio.run(go())


def attempts() -> int:
    return request_stats().total("test").requests


def test_a_closed_port_fails_at_the_first_attempt() -> None:
    error = get(f"http://127.0.0.1:{closed_port()}")
    assert isinstance(error, UnreachableError), error
    assert attempts() == 1
    assert "nothing answered at http://127.0.0.1:" in str(error)
    assert error.retryable  # the queue may try again on a later run: the system may be up by then


def test_an_unknown_host_fails_at_the_first_attempt() -> None:
    error = get("http://no-such-host.invalid")
    assert isinstance(error, UnreachableError), error
    assert attempts() == 1


@pytest.fixture
def restarted_port() -> Iterator[int]:
    """A port where a server answered and then stopped (a restart in progress)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = int(server.server_address[1])
    try:
        assert get(f"http://127.0.0.1:{port}") is None  # it answered once
    finally:
        server.shutdown()
        server.server_close()
    yield port


def test_a_refusal_where_a_server_answered_before_is_retried(restarted_port: int) -> None:
    before = attempts()
    error = get(f"http://127.0.0.1:{restarted_port}")
    assert type(error) is TransientError, error
    assert attempts() - before == FAST.max_attempts
