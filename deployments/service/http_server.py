"""The hardened uvicorn set-up every server of the hub shares: the feed server, the webhook receiver and
``skladbridge serve``'s merged app.

* A header timeout: uvicorn (0.54) only times out idle keep-alive connections *after* a response, so
  a client that connects and never finishes its headers would hold a socket forever;
  :func:`header_timeout_protocol` closes such connections.
* No access log: the paths these servers answer hold secrets (feed path secrets, webhook tokens).
* No ``Server`` header, a short keep-alive, h11 (the protocol the header timeout is written for).
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

#: seconds a client has to send a request's headers
HEADER_TIMEOUT = 10.0
#: seconds an idle keep-alive connection stays open after a response
KEEP_ALIVE_TIMEOUT = 5


def header_timeout_protocol(seconds: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol that closes a connection whose request headers are not complete in ``seconds``.

    Armed when the connection opens and again after each response (the next request's headers);
    disarmed once a request's headers have been parsed (a slow body download is not cut).
    """

    class HeaderTimeoutProtocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(seconds, self._expired)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _headers_in(self) -> None:
            if self.cycle is not None and not self.cycle.response_complete:
                self._disarm()

        def _expired(self) -> None:
            self._deadline = None
            if (self.cycle is None or self.cycle.response_complete) and not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self._headers_in()

        def on_response_complete(self) -> None:
            if not self.transport.is_closing():
                self._arm()
            super().on_response_complete()
            self._headers_in()  # a pipelined request may have started inside

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeaderTimeoutProtocol


def server_config(
    app: Any, host: str, port: int, *, header_timeout: float = HEADER_TIMEOUT, lifespan: Literal["on", "off"] = "off"
) -> uvicorn.Config:
    """uvicorn settings of a hub server: header and keep-alive timeouts, no access log, no server header."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=header_timeout_protocol(header_timeout),
        timeout_keep_alive=KEEP_ALIVE_TIMEOUT,
        access_log=False,
        lifespan=lifespan,
        log_level="warning",
        server_header=False,
    )
