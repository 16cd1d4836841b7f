"""The port probe every server command runs before it starts (``ensure_port_free``)."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest
import typer

from deployments.cli.common import ensure_port_free


def _time_wait_on(port: int) -> int:
    """TIME-WAIT sockets whose local port is ``port`` (Linux: /proc/net/tcp)."""
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for row in rows if int(row.split()[1].split(":")[1], 16) == port and row.split()[3] == "06")


def _listener(port: int) -> socket.socket:
    """A server socket bound as uvicorn binds one (SO_REUSEADDR)."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen()
    return server


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads TIME-WAIT sockets from /proc/net/tcp")
def test_a_server_restarts_at_once_on_its_port_while_time_wait_sockets_remain() -> None:
    """A stop closes its connections first: their TIME-WAIT sockets hold the port for a minute, and the
    restart at once on the same port must not be refused for them (the server itself binds with
    SO_REUSEADDR); a port something listens on is still refused, in one line."""
    server = _listener(0)
    port = server.getsockname()[1]
    clients = []
    for _ in range(3):  # a few kept-alive connections, closed by the server as it stops
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _addr = server.accept()
        accepted.close()  # the server closes first: its side goes to TIME-WAIT once the client closes
        clients.append(client)
    for client in clients:
        assert client.recv(1) == b""
        client.close()
    server.close()
    assert _time_wait_on(port) >= 1, "the stop left no TIME-WAIT socket: nothing is tested"

    ensure_port_free("127.0.0.1", port)  # the restart, at once
    restarted = _listener(port)  # and the server binds as it starts
    try:
        with pytest.raises(typer.Exit):
            ensure_port_free("127.0.0.1", port)  # a listening socket still makes the port busy
    finally:
        restarted.close()


def test_a_busy_port_names_the_option_to_change(capsys: pytest.CaptureFixture[str]) -> None:
    busy = _listener(0)
    port = busy.getsockname()[1]
    try:
        with pytest.raises(typer.Exit):
            ensure_port_free("127.0.0.1", port, "--prefect-port")
    finally:
        busy.close()
    err = capsys.readouterr().err
    assert err.strip() == (f"cannot listen on 127.0.0.1:{port}: Address already in use; pick another --prefect-port")
