"""The order webhook receiver: ``/hooks/{system}/{integration}/{token}`` of a channel that notifies
order changes (keyCRM's automation trigger "Відправити Webhook", POST or GET as it is set up).

It generalises the stock receiver (:mod:`deployments.service.webhooks`, which routes to it): the
same path, the same token rule (``options.orders.webhook_secret``, a secret reference, compared in
constant time; strangers get the same bare 404), and the same answer-first rule — the receiver
checks, deduplicates and answers at once, and the work runs in a cycle of the long-running process.

* The channel's own parser (an ``OrderEvents`` capability) reads the delivery into an order id and
  the time of the change it reports; that pair is the dedupe key, kept in the hub (``snapshots``,
  stream ``order-events``), so a repeated trigger, or a GET and a POST of one change, count once.
* A new event asks for an order-upload cycle (:class:`~deployments.service.cycle_trigger.CycleTrigger`:
  one running, one pending per integration). That cycle reads every order changed since the hub's
  cursor whole, 50 a request with their lines, buyer and shipping — so the full order is fetched
  once however many events named it, a burst of 300 events costs a few cycles of a few requests,
  and an event lost on the way is still carried by the next cycle or by the slow poll
  (``options.orders.poll_seconds``), the safety net.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response

from deployments.service.cycle_runs import run_noted
from deployments.service.cycle_trigger import CycleTrigger
from deployments.service.hook_tokens import WebhookSetupError, checked_token
from hub.capabilities import OrderEvents
from hub.config import Config
from hub.exchanges import skipped_reason
from hub.store import Store
from hub.systems import connector
from tasks.clients import capability_for_planning

logger = logging.getLogger("skladbridge.webhooks")

#: where seen events are kept (snapshot stream: key = order id @ change time)
SEEN = "order-events"
#: a trigger's body is one flat order row: a few KiB
MAX_BODY = 64 * 1024

#: one order-upload cycle of an integration (a dict with ``skipped``: ask again later)
UploadRunner = Callable[[str], object]


@dataclass(frozen=True)
class OrderHook:
    """An integration whose channel posts order events: its system, token and the channel's parser."""

    integration: str
    system: str
    token: bytes
    events: OrderEvents


def receiving_order_hooks(config: Config) -> dict[tuple[str, str], OrderHook]:
    """(system, integration) → :class:`OrderHook` of every active integration with an order webhook secret.

    Raises:
        WebhookSetupError: a secret is set where the order source sends no webhooks, or is unusable.
        ConfigError: a secret reference cannot be resolved.
    """
    hooks: dict[tuple[str, str], OrderHook] = {}
    for name, integ in sorted(config.integrations.items()):
        if not integ.active or not integ.options.orders.webhook_secret:
            continue
        where = f"integrations.{name}.options.orders.webhook_secret"
        edge = integ.edge("orders")
        if edge is None:
            raise WebhookSetupError(f"{where} is set, but the integration has no flows.orders edge")
        system = integ.systems[edge.source].system
        if not connector(system).can(OrderEvents):
            raise WebhookSetupError(f"{where} is set, but {edge.source} ({system}) sends no order webhooks")
        token = checked_token(where, integ.options.orders.webhook_secret)
        with capability_for_planning(integ, edge.source, OrderEvents) as events:
            hooks[(system, name)] = OrderHook(name, system, token.encode(), events)
    return hooks


def order_upload_on_event(config_path: Path | str | None) -> UploadRunner:
    """The default cycle: the ``order-upload`` flow in this process (trigger ``webhook``)."""

    def run(integration: str) -> object:
        from flows.order_upload import order_upload

        return run_noted(order_upload, integration, str(config_path) if config_path else None, trigger="webhook")

    return run


class OrderReceiver:
    """Checks, deduplicates and answers order events; asks for upload cycles."""

    def __init__(self, store: Store, run_cycle: UploadRunner, *, retry_after: float = 30.0) -> None:
        self.store = store
        self._run_cycle = run_cycle
        self.trigger = CycleTrigger(self._cycle, exchange="order-upload", retry_after=retry_after)
        self.events = 0
        self.duplicates = 0

    def _cycle(self, integration: str) -> bool:
        return skipped_reason(self._run_cycle(integration)) is None

    def _first_time(self, integration: str, key: str) -> bool:
        seen = self.store.snapshots.hashes(integration, SEEN, [key])
        if seen:
            return False
        self.store.snapshots.save(integration, SEEN, {key: "1"})
        return True

    async def receive(self, hook: OrderHook, request: Request) -> Response:
        """One delivery of ``hook``'s channel (its token already checked)."""
        body = b""
        if request.method == "POST":
            try:
                body = await request.body()
            except ClientDisconnect:
                return Response(status_code=400)
            if len(body) > MAX_BODY:
                return PlainTextResponse(f"an order event over {MAX_BODY} bytes was refused\n", 413)
        try:
            event = hook.events.parse_order_event(body, request.query_params)
        except (ValueError, RecursionError) as exc:
            message = f"a malformed {hook.system} order event was refused: {exc}"
            await run_in_threadpool(
                self.store.journal.write, hook.integration, "warning", "webhook.refused", message, {"status": 400}
            )
            return PlainTextResponse(message + "\n", 400)
        self.events += 1
        if await run_in_threadpool(self._first_time, hook.integration, event.key):
            self.trigger.request(hook.integration)
        else:
            self.duplicates += 1
        return Response(status_code=200)

    def close(self, timeout: float = 5.0) -> None:
        self.trigger.close(timeout)


def hooks_of(hooks: Mapping[tuple[str, str], OrderHook], system: str, integration: str) -> OrderHook | None:
    return hooks.get((system, integration))
