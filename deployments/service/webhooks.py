"""The stock webhook receiver: ``POST /hooks/{system}/{integration}/{token}``, answered before any work.

A stock source (MoySklad) posts a notice when stock moved; it waits 1.5 s for a 200/204 and
otherwise retries three times at once with the same ``requestId``. So the receiver only checks,
records and answers: the token in the path (the integration's ``options.stock.webhook_secret``,
compared in constant time), the body's size and shape (the source's own parser, a
``StockEvents`` capability), one row in the hub per delivery (a retry is recognised by its id).
Then a stock cycle is asked for (:class:`~deployments.service.cycle_trigger.CycleTrigger`: one running and
one pending per integration), and once a cycle that started after a notice ends, the notice is done.
A receiver started again replays the integrations that still have pending notices.

A notice of a changed customer order also asks for an order-status-sync cycle when the integration
brings order states back from the same system (``flows.statuses`` from the stock source): the state
a manager set in the ERP reaches the channel in seconds. Those cycles read by their own cursor with
an overlap, and the scheduled status sync catches what a lost notice would have carried.

A channel that is the integration's stock target and posts its own stock changes (keyCRM's stock
webhook, a JSON array: :class:`~hub.capabilities.StockEchoes`) posts them to the channel's order
webhook URL, same token: the hub's own writes coming back are ignored and counted; a change made in
the channel is journaled and asks for a stock cycle, which writes the stock system's quantities back
(:mod:`tasks.stock.echoes`).

Unknown system, integration or token, an integration that takes no webhooks, another method and
any other path under ``/hooks`` (a trailing slash, a segment more or less) answer the same bare 404
and leave no trace: nothing is stored, journaled or logged, and the token is never logged (uvicorn's
access log is off: the path holds it). One route takes every path under ``/hooks`` and parses it
itself, so no path there is ever answered with Starlette's trailing-slash redirect. A body that is
not JSON by its ``Content-Type`` (415), too large (413) or malformed, however deeply nested (400),
gets a 4xx and a journal entry of the integration, never a 5xx, which would make the source retry
it in vain.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from deployments.service.change_hooks import ChangeHook, ChangeReceiver, receiving_change_hooks, two_way_on_change
from deployments.service.cycle_runs import run_noted
from deployments.service.cycle_trigger import CycleTrigger
from deployments.service.hook_tokens import MIN_TOKEN_LENGTH, WebhookSetupError, checked_token
from deployments.service.http_server import server_config
from deployments.service.order_hooks import OrderHook, OrderReceiver, order_upload_on_event, receiving_order_hooks
from hub.capabilities import StockEchoes, StockEvents
from hub.config import Config, load_config
from hub.exchanges import skipped_reason
from hub.store import Store, StoreError
from hub.systems import connector
from tasks.clients import capability_for_planning
from tasks.hub_tasks import open_hub_store
from tasks.stock.echoes import sort_changes
from tasks.two_way.run import INBOX as CHANGE_INBOX

logger = logging.getLogger("skladbridge.webhooks")

#: the largest body accepted: MoySklad's notices are a few hundred bytes (a document's events a few KiB)
MAX_BODY = 64 * 1024
_HOOK_PATH = re.compile(r"(/hooks/[^/]+/[^/]+/)[^/?#]+")
#: what the route's catch-all ``rest`` must be: /{system}/{integration}/{token}, nothing more or less
_HOOK_REST = re.compile(r"/(?P<system>[^/]+)/(?P<integration>[^/]+)/(?P<token>[^/]+)")
#: media types of a JSON body (``application/json`` and ``+json`` ones; parameters such as charset aside)
_JSON_TYPE = re.compile(r"application/(?:[\w.+-]+\+)?json", re.IGNORECASE)

#: one stock cycle of an integration; gets when the oldest notice it carries arrived. A dict result
#: with ``skipped`` (another run held the stock lock) leaves the notices pending
CycleRunner = Callable[[str, datetime | None], object]
#: one order-status-sync cycle of an integration (a dict with ``skipped``: ask again later)
StatusRunner = Callable[[str], object]
#: the notice kind of a changed customer order (what StockNotice.kind says for it)
ORDER_KIND = "customerorder"


@dataclass(frozen=True)
class Hook:
    """An integration that takes stock webhooks: its source system, token, and the source's parser."""

    integration: str
    system: str
    alias: str
    token: bytes
    events: StockEvents
    statuses: bool = False  # its order states go back to the channel: order notices start a status sync


@dataclass(frozen=True)
class EchoHook:
    """A stock target that posts its own stock changes to its order webhook URL (same token)."""

    integration: str
    system: str
    events: StockEchoes


def receiving_stock_echoes(
    config: Config, order_hooks: Mapping[tuple[str, str], OrderHook]
) -> dict[tuple[str, str], EchoHook]:
    """(system, integration) → :class:`EchoHook` of the order hooks whose channel is also the
    integration's stock target and posts its stock changes (:class:`~hub.capabilities.StockEchoes`)."""
    echoes: dict[tuple[str, str], EchoHook] = {}
    for (system, name), hook in order_hooks.items():
        integ = config.integrations[name]
        edge = integ.edge("stock")
        if edge is None or integ.systems[edge.target].system != system:
            continue
        if not connector(system).can(StockEchoes):
            continue
        with capability_for_planning(integ, edge.target, StockEchoes) as events:
            echoes[(system, name)] = EchoHook(hook.integration, system, events)
    return echoes


def hook_url(base_url: str, system: str, integration: str, token: str) -> str:
    """The receiver's URL of ``integration`` under ``base_url`` (``token`` empty: the prefix of all its URLs)."""
    return f"{base_url.rstrip('/')}/hooks/{system}/{integration}/{token}"


def masked(url: str) -> str:
    """``url`` with the token of a receiver's path replaced by ``<token>`` (for consoles and logs)."""
    return _HOOK_PATH.sub(r"\1<token>", url)


def receiving_hooks(config: Config) -> dict[tuple[str, str], Hook]:
    """(system, integration) → :class:`Hook` of every active integration with a webhook secret.

    Raises:
        WebhookSetupError: a secret is set where no stock source can send webhooks, or is unusable.
        ConfigError: a secret reference cannot be resolved (names the variable or block).
    """
    hooks: dict[tuple[str, str], Hook] = {}
    for name, integ in sorted(config.integrations.items()):
        if not integ.active or not integ.options.stock.webhook_secret:
            continue
        where = f"integrations.{name}.options.stock.webhook_secret"
        edge = integ.edge("stock")
        if edge is None:
            raise WebhookSetupError(f"{where} is set, but the integration has no flows.stock edge")
        token = checked_token(where, integ.options.stock.webhook_secret)
        with capability_for_planning(integ, edge.source, StockEvents) as events:
            system = integ.systems[edge.source].system
            states = integ.edge("statuses")
            hooks[(system, name)] = Hook(
                name,
                system,
                edge.source,
                token.encode(),
                events,
                statuses=states is not None and states.source == edge.source,
            )
    return hooks


def stock_sync_cycle(config_path: Path | str | None) -> CycleRunner:
    """The default cycle: the ``stock-sync`` flow, called in this process (trigger ``webhook``)."""

    def run(integration: str, noticed_at: datetime | None) -> object:
        from flows.stock_sync import stock_sync

        return run_noted(
            stock_sync,
            integration=integration,
            config_path=str(config_path) if config_path else None,
            trigger="webhook",
            noticed_at=noticed_at.isoformat() if noticed_at else None,
        )

    return run


def status_sync_cycle(config_path: Path | str | None) -> StatusRunner:
    """The default status cycle: the ``order-status-sync`` flow, called in this process (trigger ``webhook``)."""

    def run(integration: str) -> object:
        from flows.order_status_sync import order_status_sync

        return run_noted(order_status_sync, integration, str(config_path) if config_path else None, trigger="webhook")

    return run


class Receiver:
    """The receiver's state: who may post, the hub store, and the trigger of cycles."""

    def __init__(
        self,
        hooks: Mapping[tuple[str, str], Hook],
        store: Store,
        run_cycle: CycleRunner,
        *,
        max_body: int = MAX_BODY,
        retry_after: float = 30.0,
        run_status_cycle: StatusRunner | None = None,
        order_hooks: Mapping[tuple[str, str], OrderHook] | None = None,
        orders: OrderReceiver | None = None,
        change_hooks: Mapping[tuple[str, str], ChangeHook] | None = None,
        changes: ChangeReceiver | None = None,
        echo_hooks: Mapping[tuple[str, str], EchoHook] | None = None,
    ) -> None:
        self.hooks = dict(hooks)
        # channels that post order events share the path: /hooks/{system}/{integration}/{token}
        self.order_hooks = dict(order_hooks or {})
        self.orders = orders
        # an ERP's change notices (counterparties, retail sales) share it too, by their own token
        self.change_hooks = dict(change_hooks or {})
        self.changes = changes
        self.echo_hooks = dict(echo_hooks or {})
        #: a stock target's own stock webhook: the hub's writes coming back, changes made there,
        #: repeats of a change already marked, offers the hub does not write
        self.stock_echoes = self.stock_changes = self.stock_duplicates = self.stock_unknown = 0
        self.store = store
        self.max_body = max_body
        self._run_cycle = run_cycle
        self.trigger = CycleTrigger(self._cycle, retry_after=retry_after)
        self._run_status_cycle = run_status_cycle
        self.status_trigger = CycleTrigger(self._status_cycle, exchange="order-status-sync", retry_after=retry_after)

    def resume(self) -> list[str]:
        """Ask for a cycle of every integration a previous receiver left notices pending for."""
        ours = {hook.integration for hook in self.hooks.values()}
        waiting = [name for name in self.store.notices.integrations_pending() if name in ours]
        for name in waiting:
            self.trigger.request(name)
        if self.changes is not None:  # ERP changes kept but not yet applied by a two-way cycle
            for name in sorted({hook.integration for hook in self.change_hooks.values()}):
                if self.store.records.count(name, CHANGE_INBOX):
                    self.changes.trigger.request(name)
        return waiting

    def close(self, timeout: float = 5.0) -> None:
        """Take no more cycles; let running ones end for up to ``timeout`` seconds in all."""
        deadline = time.monotonic() + timeout
        self.trigger.close(timeout)
        self.status_trigger.close(max(0.0, deadline - time.monotonic()))
        if self.orders is not None:
            self.orders.close(max(0.0, deadline - time.monotonic()))
        if self.changes is not None:
            self.changes.close(max(0.0, deadline - time.monotonic()))
        self.store.close()

    def _status_cycle(self, integration: str) -> bool:
        if self._run_status_cycle is None:
            return True
        result = self._run_status_cycle(integration)
        return skipped_reason(result) is None

    def _cycle(self, integration: str) -> bool:
        # what is recorded from here on may not be in this cycle's read: it stays pending
        up_to = self.store.notices.latest_id(integration)
        oldest = self.store.notices.pending(integration, limit=1)
        result = self._run_cycle(integration, oldest[0].received_at if oldest else None)
        if skipped_reason(result) is not None:
            return False
        if up_to is not None:
            self.store.notices.mark_done(integration, up_to=up_to)
        return True

    async def receive(self, request: Request) -> Response:
        parts = _HOOK_REST.fullmatch(request.path_params["rest"])
        if parts is None:
            return _not_found()
        system, name = parts["system"], parts["integration"]
        change_hook = self.change_hooks.get((system, name))
        if (
            change_hook is not None
            and self.changes is not None
            and hmac.compare_digest(parts["token"].encode(), change_hook.token)
        ):
            return await self.changes.receive(change_hook, request)
        order_hook = self.order_hooks.get((system, name))
        if order_hook is not None and self.orders is not None:
            if not hmac.compare_digest(parts["token"].encode(), order_hook.token):
                return _not_found()
            echo = self.echo_hooks.get((system, name))
            if echo is not None and request.method == "POST":
                declared = request.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_body:
                    return await self._refuse(
                        name, system, 413, f"a {system} webhook over {self.max_body} bytes was refused"
                    )
                try:
                    posted = await request.body()  # kept by the request: the order receiver reads it again
                except ClientDisconnect:
                    return Response(status_code=400)
                if posted.lstrip()[:1] == b"[":  # the stock webhook posts an array; a trigger, an object
                    return await self._stock_echo(echo, posted)
            return await self.orders.receive(order_hook, request)
        hook = self.hooks.get((system, name))
        # compared even for an unknown name, so the answer's timing does not tell names apart
        expected = hook.token if hook else b"\0" * MIN_TOKEN_LENGTH
        if not hmac.compare_digest(parts["token"].encode(), expected) or hook is None or request.method != "POST":
            return _not_found()
        media_type = request.headers.get("content-type", "").split(";", 1)[0].strip()
        if not _JSON_TYPE.fullmatch(media_type):
            # a form or text body is no notice of the source's (it always posts JSON)
            shown = repr(media_type[:60]) if media_type else "none"
            return await self._refuse(
                name,
                system,
                415,
                f"a {system} notice with Content-Type {shown} was refused: only application/json is taken",
            )
        try:
            body = await _body(request, self.max_body)
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is listening for the answer
        if body is None:
            return await self._refuse(name, system, 413, f"a {system} notice over {self.max_body} bytes was refused")
        try:
            notice = hook.events.parse_notice(body, request.query_params)
        except ValueError as exc:
            return await self._refuse(name, system, 400, f"a malformed {system} notice was refused: {exc}")
        except RecursionError:  # a parser that does not guard against deep nesting itself
            return await self._refuse(
                name, system, 400, f"a malformed {system} notice was refused: the body is nested too deeply"
            )
        try:
            fresh = await run_in_threadpool(self.store.notices.record, name, system, notice)
        except (SQLAlchemyError, StoreError) as exc:
            # the one 5xx: the hub cannot keep the notice, so the source's retries are worth it
            logger.warning("stock notice of %s not recorded: %s", name, type(exc).__name__)
            return PlainTextResponse("the hub store is unavailable\n", 503)
        if fresh:
            self.trigger.request(name)
            if hook.statuses and ORDER_KIND in notice.kind.split(","):
                self.status_trigger.request(name)
        return Response(status_code=204)

    async def _stock_echo(self, echo: EchoHook, body: bytes) -> Response:
        """One delivery of a stock target's own stock webhook (its token checked)."""
        name, system = echo.integration, echo.system
        if len(body) > self.max_body:
            return await self._refuse(
                name, system, 413, f"a {system} stock webhook over {self.max_body} bytes was refused"
            )
        try:
            changes = echo.events.parse_stock_changes(body)
        except (ValueError, RecursionError) as exc:
            message = str(exc) if isinstance(exc, ValueError) else "the body is nested too deeply"
            return await self._refuse(name, system, 400, f"a malformed {system} stock webhook was refused: {message}")
        try:
            found = await run_in_threadpool(sort_changes, self.store, name, system, changes)
        except (SQLAlchemyError, StoreError) as exc:
            logger.warning("stock webhook of %s not recorded: %s", name, type(exc).__name__)
            return PlainTextResponse("the hub store is unavailable\n", 503)
        self.stock_echoes += found.echoes
        self.stock_duplicates += found.duplicates
        self.stock_unknown += found.unknown
        if found.changed:
            self.stock_changes += len(found.changed)
            self.trigger.request(name)  # the next stock cycle writes the stock system's quantities back
        return Response(status_code=200)

    async def _refuse(self, integration: str, system: str, status: int, message: str) -> Response:
        try:
            await run_in_threadpool(
                self.store.journal.write,
                integration,
                "warning",
                "webhook.refused",
                message,
                {"system": system, "status": status},
            )
        except (SQLAlchemyError, StoreError) as exc:
            logger.warning("journal unavailable: %s", type(exc).__name__)
        return PlainTextResponse(f"{message}\n", status)


async def _body(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it is known to be over ``limit`` bytes (the rest is not read)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def _not_found() -> Response:
    return PlainTextResponse("not found\n", 404)


def webhook_app(
    config_path: Path | str | None,
    run_cycle: CycleRunner | None = None,
    *,
    max_body: int = MAX_BODY,
    retry_after: float = 30.0,
    run_status_cycle: StatusRunner | None = None,
    run_upload_cycle: Callable[[str], object] | None = None,
    run_change_cycle: Callable[[str], object] | None = None,
) -> Starlette:
    """The receiver as an ASGI app, for the config at ``config_path`` (``app.state.receiver`` is its state).

    ``run_cycle`` defaults to the ``stock-sync`` flow. On startup (the ASGI lifespan) integrations
    with pending notices get a cycle; on shutdown running cycles get a few seconds to end.
    """
    config = load_config(config_path)
    hooks = receiving_hooks(config)
    order_hooks = receiving_order_hooks(config)
    change_hooks = receiving_change_hooks(config)
    store = open_hub_store(config)
    orders = (
        OrderReceiver(store, run_upload_cycle or order_upload_on_event(config_path), retry_after=retry_after)
        if order_hooks
        else None
    )
    receiver = Receiver(
        hooks,
        store,
        run_cycle or stock_sync_cycle(config_path),
        max_body=max_body,
        retry_after=retry_after,
        run_status_cycle=run_status_cycle or status_sync_cycle(config_path),
        order_hooks=order_hooks,
        orders=orders,
        change_hooks=change_hooks,
        changes=ChangeReceiver(store, run_change_cycle or two_way_on_change(config_path), retry_after=retry_after)
        if change_hooks
        else None,
        echo_hooks=receiving_stock_echoes(config, order_hooks),
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(receiver.resume)
        try:
            yield
        finally:
            await run_in_threadpool(receiver.close)

    async def refused(request: Request, exc: Exception) -> Response:
        return _not_found()

    # one route for every path under /hooks: receive() parses it, so no near-miss is redirected
    app = Starlette(
        # POST for every source; GET only reaches a channel's order hook (a trigger set up as GET)
        routes=[Route("/hooks{rest:path}", receiver.receive, methods=["POST", "GET"])],
        exception_handlers={404: refused, 405: refused},
        lifespan=lifespan,
    )
    app.state.receiver = receiver
    return app


def serve_webhooks(app: Any, host: str, port: int) -> None:
    """Serve the receiver until Ctrl-C: no access log (paths hold tokens), headers due within 10 s."""
    uvicorn.Server(server_config(app, host, port, lifespan="on")).run()
