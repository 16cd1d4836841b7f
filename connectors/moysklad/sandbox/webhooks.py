"""Webhook delivery the way MoySklad does it ([WH], [WB-WH], [WHS]).

``POST <url>?requestId=<uuid>`` with the ``events`` body and the MoySklad user agent; the receiver
has 1.5 s to answer 200/204; on failure 3 more attempts follow immediately with the same
``requestId``, then the notification is dropped for good. ``webhookstock`` posts a ``reportUrl``
(``/report/stock/{all|bystore}/current?changedSince=…``) every ``stock_interval`` seconds, and only
when stock changed since the previous notification.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx

from connectors.moysklad.sandbox.state import STORE_BASE, Json, entity_meta, moscow

if TYPE_CHECKING:
    from connectors.moysklad.sandbox.account import Account

USER_AGENT = "MoySklad webhook touch agent 2.0 (/https://www.moysklad.ru)"
TIMEOUT_SECONDS = 1.5
ATTEMPTS = 4  # the first try plus 3 immediate retries


@dataclass(frozen=True)
class Delivery:
    """One delivery attempt (for assertions)."""

    url: str
    request_id: str
    attempt: int
    status: int | None
    error: str | None
    body: Json


class WebhookDispatcher:
    """Queues and sends webhook notifications of one sandbox.

    Attributes:
        transport: httpx transport used to reach receivers (None: real network); tests pass an
            ``httpx.ASGITransport`` to an in-process receiver.
        stock_interval: seconds between ``webhookstock`` checks once one exists.
        deliveries: every attempt made, in order.
        dropped: notifications given up after 4 failed attempts.
    """

    def __init__(
        self, sandbox: Account, transport: httpx.AsyncBaseTransport | None = None, stock_interval: float = 60.0
    ) -> None:
        self.sb = sandbox
        self.transport = transport
        self.stock_interval = stock_interval
        self.deliveries: list[Delivery] = []
        self.dropped: list[Json] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._stock_loop: asyncio.Task[None] | None = None
        self._stock_sent_at: datetime | None = None
        self.disabled_prefixes: tuple[str, ...] = ()

    def notify(self, entity_type: str, id_: str, action: str, fields: list[str] | None) -> None:
        """Queue notifications for a change (called by the writer, inside a request)."""
        hooks = [
            w
            for w in self.sb.store.of_type("webhook").values()
            if w.get("enabled", True)
            and w.get("entityType") == entity_type
            and w.get("action") == action
            and not any(str(w.get("url", "")).startswith(p) for p in self.disabled_prefixes)
        ]
        for hook in hooks:
            event: Json = {
                "meta": {"type": entity_type, "href": entity_meta(entity_type, id_)["href"]},
                "action": action,
                "accountId": self.sb.store.account_id,
            }
            if action == "UPDATE" and hook.get("diffType") == "FIELDS" and fields is not None:
                event["updatedFields"] = fields
            body = {
                "auditContext": {
                    "meta": {"type": "audit", "href": f"{STORE_BASE}/audit/{uuid.uuid4()}"},
                    "moment": moscow(self.sb.store.now()),
                    "uid": self.sb.login or "admin@sandbox",
                },
                "events": [event],
            }
            self._spawn(self._deliver(str(hook["url"]), body))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        try:
            task = asyncio.get_running_loop().create_task(coro)
        except RuntimeError:  # no loop (a synchronous seeding call): nothing is listening yet
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, url: str, body: Json) -> None:
        request_id = str(uuid.uuid4())
        payload = self.sb.rehost(body)
        async with httpx.AsyncClient(transport=self.transport, timeout=TIMEOUT_SECONDS) as client:
            for attempt in range(1, ATTEMPTS + 1):
                status: int | None = None
                error: str | None = None
                try:
                    # wait_for as well as the client timeout: in-process transports ignore timeouts
                    resp = await asyncio.wait_for(
                        client.post(
                            url, params={"requestId": request_id}, json=payload, headers={"User-Agent": USER_AGENT}
                        ),
                        TIMEOUT_SECONDS,
                    )
                    status = resp.status_code
                except (httpx.HTTPError, OSError, TimeoutError) as exc:
                    error = type(exc).__name__
                self.deliveries.append(Delivery(url, request_id, attempt, status, error, payload))
                if status in (200, 204):
                    return
        self.dropped.append(payload)

    async def drain(self) -> None:
        """Wait until every queued notification was delivered or dropped."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def ensure_stock_loop(self) -> None:
        """Start the periodic ``webhookstock`` check (once, in the serving loop)."""
        if self._stock_loop is None or self._stock_loop.done():
            try:
                self._stock_loop = asyncio.get_running_loop().create_task(self._stock_forever())
            except RuntimeError:
                return

    async def _stock_forever(self) -> None:
        while True:
            await asyncio.sleep(self.stock_interval)
            self.send_stock_notifications()

    def send_stock_notifications(self) -> int:
        """Notify every ``webhookstock`` if stock changed since the last notification."""
        changed = self.sb.ledger.last_change
        since = self._stock_sent_at
        if changed is None or (since is not None and changed <= since):
            return 0
        sent = 0
        for hook in self.sb.store.of_type("webhookstock").values():
            if not hook.get("enabled", True):
                continue
            moment = moscow(since or changed)[:19]
            body = {
                "accountId": self.sb.store.account_id,
                "stockType": hook.get("stockType", "stock"),
                "reportType": hook["reportType"],
                "reportUrl": f"{STORE_BASE}/report/stock/{hook['reportType']}/current?changedSince={moment}",
            }
            self._spawn(self._deliver(str(hook["url"]), body))
            sent += 1
        self._stock_sent_at = self.sb.store.now()
        return sent
