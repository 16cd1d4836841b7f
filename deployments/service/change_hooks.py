"""The ERP change receiver: ``POST /hooks/{system}/{integration}/{token}`` of an ERP that names changed
counterparties and new retail sales (MoySklad's entity webhooks; docs/two_way.md).

It shares the stock receiver's path and rules (:mod:`deployments.service.webhooks` routes to it when
the token is ``options.two_way.webhook_secret``'s): the token compared in constant time, the answer
first. The ERP's own parser (an ``ErpChangeEvents`` capability) reads the delivery into the changes it
names; they are kept in the hub (:func:`tasks.two_way.run.record_delivery`, one row per entity and
delivery id, so the ERP's retries of one delivery are one row) and a two-way cycle is asked for
(:class:`~deployments.service.cycle_trigger.CycleTrigger`: one running, one pending per integration).
The cycle reads each entity as it is then, so deliveries repeated or out of order change nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response

from deployments.service.cycle_runs import run_noted
from deployments.service.cycle_trigger import CycleTrigger
from deployments.service.hook_tokens import WebhookSetupError, checked_token
from hub.capabilities.two_way import ErpChangeEvents
from hub.config import Config
from hub.exchanges import skipped_reason
from hub.store import Store, StoreError
from hub.systems import connector
from tasks.clients import capability_for_planning
from tasks.two_way.run import record_delivery

logger = logging.getLogger("skladbridge.webhooks")

#: MoySklad's entity notices are a few hundred bytes (several events a few KiB)
MAX_BODY = 64 * 1024

#: one two-way cycle of an integration (a dict with ``skipped``: ask again later)
ChangeRunner = Callable[[str], object]


@dataclass(frozen=True)
class ChangeHook:
    """An integration whose ERP posts changes: its system, token and the ERP's parser."""

    integration: str
    system: str
    token: bytes
    events: ErpChangeEvents


def receiving_change_hooks(config: Config) -> dict[tuple[str, str], ChangeHook]:
    """(system, integration) → :class:`ChangeHook` of every active integration with a change webhook secret.

    Raises:
        WebhookSetupError: a secret is set where the ERP sends no change webhooks, or is unusable.
        ConfigError: a secret reference cannot be resolved.
    """
    hooks: dict[tuple[str, str], ChangeHook] = {}
    for name, integ in sorted(config.integrations.items()):
        if not integ.active or not integ.options.two_way.webhook_secret:
            continue
        where = f"integrations.{name}.options.two_way.webhook_secret"
        edge = integ.edge("orders")
        if edge is None:
            raise WebhookSetupError(f"{where} is set, but the integration has no flows.orders edge")
        system = integ.systems[edge.target].system
        if not connector(system).can(ErpChangeEvents):
            raise WebhookSetupError(f"{where} is set, but {edge.target} ({system}) sends no change webhooks")
        token = checked_token(where, integ.options.two_way.webhook_secret)
        with capability_for_planning(integ, edge.target, ErpChangeEvents) as events:
            hooks[(system, name)] = ChangeHook(name, system, token.encode(), events)
    return hooks


def two_way_on_change(config_path: Path | str | None) -> ChangeRunner:
    """The default cycle: the ``two-way-sync`` flow in this process (trigger ``webhook``)."""

    def run(integration: str) -> object:
        from flows.two_way_sync import two_way_sync

        return run_noted(two_way_sync, integration, str(config_path) if config_path else None, trigger="webhook")

    return run


class ChangeReceiver:
    """Checks, keeps and answers ERP change deliveries; asks for two-way cycles."""

    def __init__(self, store: Store, run_cycle: ChangeRunner, *, retry_after: float = 30.0) -> None:
        self.store = store
        self._run_cycle = run_cycle
        self.trigger = CycleTrigger(self._cycle, exchange="two-way-sync", retry_after=retry_after)
        self.deliveries = 0
        self.repeated = 0

    def _cycle(self, integration: str) -> bool:
        return skipped_reason(self._run_cycle(integration)) is None

    async def receive(self, hook: ChangeHook, request: Request) -> Response:
        """One delivery of ``hook``'s ERP (its token already checked)."""
        if request.method != "POST":
            return PlainTextResponse("not found\n", 404)
        try:
            body = await request.body()
        except ClientDisconnect:
            return Response(status_code=400)
        if len(body) > MAX_BODY:
            return PlainTextResponse(f"a change notice over {MAX_BODY} bytes was refused\n", 413)
        try:
            delivery = hook.events.parse_changes(body, request.query_params)
        except (ValueError, RecursionError) as exc:
            message = f"a malformed {hook.system} change notice was refused: {exc}"
            await run_in_threadpool(
                self.store.journal.write, hook.integration, "warning", "webhook.refused", message, {"status": 400}
            )
            return PlainTextResponse(message + "\n", 400)
        try:
            fresh = await run_in_threadpool(record_delivery, self.store, hook.integration, hook.system, delivery)
        except (SQLAlchemyError, StoreError) as exc:
            # the hub cannot keep the notice: the ERP's retries are worth it
            logger.warning("change notice of %s not recorded: %s", hook.integration, type(exc).__name__)
            return PlainTextResponse("the hub store is unavailable\n", 503)
        self.deliveries += 1
        if fresh:
            self.trigger.request(hook.integration)
        else:
            self.repeated += 1
        return Response(status_code=204)

    def close(self, timeout: float = 5.0) -> None:
        self.trigger.close(timeout)
