"""Outgoing webhooks the way keyCRM sends them (C.6): the automation trigger "Відправити Webhook"
posts ``{"event", "context": <flat order row>}`` (or sends it as a GET, as the trigger is set up),
and the stock webhook posts a JSON array ``[{offer_id, sku, in_stock, in_reserve}]`` — for changes
made through the API too. No signature and no documented retry: one attempt each (C.7).

A GET trigger's parameters are [inferred]: the same fields flattened into the query
(``event=…&context[id]=…``), as PHP's ``http_build_query`` writes them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx

TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Sent:
    """One delivery (for assertions and the demo's timings)."""

    url: str
    method: str
    body: Any
    status: int | None
    at: float


def flattened(prefix: str, value: Any) -> list[tuple[str, str]]:
    """PHP ``http_build_query`` pairs: ``context[id]=1``; None as empty, booleans as 1/0."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in flattened(f"{prefix}[{k}]", v)]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in flattened(f"{prefix}[{i}]", v)]
    if isinstance(value, bool):
        return [(prefix, "1" if value else "0")]
    return [(prefix, "" if value is None else str(value))]


class Deliveries:
    """Sends webhooks in the background of the sandbox's event loop; keeps what was sent."""

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.transport = transport
        self.sent: list[Sent] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def send(self, url: str, method: str, body: Any) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(url, method.upper(), body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, url: str, method: str, body: Any) -> None:
        import time

        status: int | None = None
        try:
            async with httpx.AsyncClient(transport=self.transport, timeout=TIMEOUT_SECONDS) as http:
                if method == "GET":
                    params: list[tuple[str, str | int | float | bool | None]] = [
                        ("event", str(body.get("event"))),
                        *flattened("context", body.get("context")),
                    ]
                    response = await http.get(url, params=params)
                else:
                    response = await http.post(url, json=body, headers={"User-Agent": "keyCRM"})
                status = response.status_code
        except httpx.HTTPError:
            status = None  # no retry policy is documented: the event is lost, as keyCRM's would be
        self.sent.append(Sent(url, method, body, status, time.time()))

    async def drain(self) -> None:
        """Wait for the deliveries under way in this event loop (a served sandbox sends from its own)."""
        loop = asyncio.get_running_loop()
        while mine := [t for t in list(self._tasks) if t.get_loop() is loop]:
            await asyncio.gather(*mine, return_exceptions=True)
