"""The few-second order poll of the long-running process (``skladbridge serve``).

retailCRM sends no documented webhook for orders, so seconds-level latency comes from asking it
often: every ``options.orders.poll_seconds`` (by default the channel's own period, declared by its
connector as a share of its budget it can afford: retailCRM 2 s of its 10 requests a second, keyCRM
60 s of its 60 a minute, Horoshop 60 s of its hourly quota) each integration with a ``flows.orders``
edge asks the channel whether anything changed after the hub's ``orders`` cursor — one request —
and only when it did, an
order-upload cycle runs in this process, coalesced like the stock cycles of the webhook receiver
(:class:`~deployments.service.cycle_trigger.CycleTrigger`: one running, one pending per integration). The
scheduled ``order-upload`` deployment stays the safety net; both take the ``orders`` run lock, so
they never send at once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from connectors.http import first_line
from deployments.service.cycle_runs import run_noted
from deployments.service.cycle_trigger import CycleTrigger
from hub.capabilities import HubWriteLog, OrderSource
from hub.config import Config
from hub.exchanges import ORDERS, skipped_reason
from hub.store import Store
from hub.systems import connector
from tasks.clients import open_capability

__all__ = ["OrderPoller", "order_upload_cycle", "polled", "start_polls"]

logger = logging.getLogger("skladbridge.orders")

#: runs one order-upload cycle of an integration; a skipped one (:func:`hub.exchanges.skipped_reason`) asks again
UploadCycle = Callable[[str], object]


def polled(config: Config) -> dict[str, float]:
    """integration -> poll seconds, of every active integration with a ``flows.orders`` edge: the config's
    ``options.orders.poll_seconds``, else the channel's own (:attr:`hub.systems.Connector.order_poll_seconds`)."""
    out: dict[str, float] = {}
    for name, integ in sorted(config.integrations.items()):
        edge = integ.edge("orders")
        if not integ.active or edge is None:
            continue
        configured = integ.options.orders.poll_seconds
        out[name] = float(
            configured if configured is not None else connector(integ.system(edge.source).system).order_poll_seconds
        )
    return out


def order_upload_cycle(config_path: Path | str | None) -> UploadCycle:
    """The default cycle: the ``order-upload`` flow, called in this process (trigger ``poll``)."""

    def run(integration: str) -> object:
        from flows.order_upload import order_upload

        return run_noted(order_upload, integration, str(config_path) if config_path else None, trigger="poll")

    return run


class OrderPoller:
    """One thread per polled integration asking the channel for changes; cycles through a trigger."""

    def __init__(self, config: Config, store: Store, run_cycle: UploadCycle, *, retry_after: float = 30.0) -> None:
        self.config, self.store = config, store
        self.periods = polled(config)
        self._run_cycle = run_cycle
        self.trigger = CycleTrigger(self._cycle, exchange="order-upload", retry_after=retry_after)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.peeks: dict[str, int] = dict.fromkeys(self.periods, 0)

    def start(self) -> OrderPoller:
        for name, seconds in self.periods.items():
            thread = threading.Thread(target=self._poll, args=(name, seconds), name=f"order-poll:{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def close(self, timeout: float = 5.0) -> None:
        """Poll no more; let a running cycle end for up to ``timeout`` seconds in all."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.trigger.close(max(0.0, deadline - time.monotonic()))

    def _cycle(self, integration: str) -> bool:
        result = self._run_cycle(integration)
        return skipped_reason(result) is None

    def _poll(self, integration: str, seconds: float) -> None:
        integ = self.config.integrations[integration]
        edge = integ.edge("orders")
        assert edge is not None  # polled() keeps only integrations with one

        # the hub's own writes are no news; changes others make with its credential are
        written = self.store.writes.log(integration, edge.source)

        async def loop() -> None:
            # one client for the life of the poll: its budget and connection are reused
            async with open_capability(integ, edge.source, OrderSource) as source:
                while not self._stop.is_set():
                    await self._peek(integration, source, written)
                    await asyncio.to_thread(self._stop.wait, seconds)

        try:
            asyncio.run(loop())
        except Exception as exc:  # the process goes on serving; the scheduled deployment still runs
            logger.error("order poll of %s stopped: %s", integration, first_line(exc))

    async def _peek(self, integration: str, source: OrderSource, written: HubWriteLog) -> None:
        cursor = await asyncio.to_thread(self.store.cursors.get, integration, ORDERS)
        try:
            changed = cursor is None or await source.has_changes(cursor, written=written)
        except Exception as exc:  # a failed peek is the next peek's business (a few seconds later)
            logger.warning("order poll of %s: %s", integration, first_line(exc))
            return
        self.peeks[integration] += 1
        if changed:
            self.trigger.request(integration)


def start_polls(
    config: Config, store: Store, config_path: Path | str | None, run_cycle: UploadCycle | None = None
) -> OrderPoller | None:
    """An :class:`OrderPoller` running for ``config``, or None when no integration uploads orders."""
    if not polled(config):
        return None
    return OrderPoller(config, store, run_cycle or order_upload_cycle(config_path)).start()
