"""Order statuses back: the ERP's order state changes reach the channel as the mapped statuses.

A cycle reads the orders whose state changed since the last one (with an overlap) and sets the mapped
status on the channel where it differs (:mod:`tasks.orders_status`). It holds the ``statuses`` run lock:
a cycle that finds it taken says so and ends cleanly. Undefined states (no mapping) are journaled and
applied by the first cycle after they are mapped; statuses the channel refused are journaled.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import ExitStack
from typing import Any

from prefect import flow, get_run_logger, tags, task
from prefect.cache_policies import NONE

from connectors.http import request_stats
from hub.capabilities import OrderStates, StatusSink
from hub.store import ExchangeBusyError
from tasks.clients import open_capability
from tasks.hub_tasks import load_config_task, open_hub_store
from tasks.orders_status import STATUSES, StatusResult, StatusRun, plan_status_run, sync_states
from tasks.reporting import publish_summary, requests_rows
from tasks.run_crashes import sweep_abandoned_runs

#: the run locks this flow takes
STREAMS = (STATUSES,)


@task(name="sync-statuses", cache_policy=NONE)
def sync_statuses(run: StatusRun) -> StatusResult:
    async def go() -> StatusResult:
        async with open_capability(run.integ, run.source, OrderStates) as states, \
                open_capability(run.integ, run.target, StatusSink) as sink:
            return await sync_states(run, states, sink)

    return asyncio.run(go())


@flow(name="order-status-sync", flow_run_name="order-status-sync/{integration}", log_prints=False)  # type: ignore[arg-type]
def order_status_sync(integration: str, config_path: str | None = None, trigger: str = "schedule") -> dict[str, Any]:
    """One status-sync cycle of ``integration`` (``trigger``: schedule, webhook, cli)."""
    logger = get_run_logger()
    started, before = time.monotonic(), request_stats().by_endpoint()
    config = load_config_task(config_path)
    store = open_hub_store(config)
    try:
        run = plan_status_run(config, integration, store)
        with ExitStack() as held:
            try:
                held.enter_context(store.locks.hold(integration, STATUSES))
            except ExchangeBusyError:
                message = "another run is syncing order statuses of this integration: this cycle is skipped"
                logger.info(message)
                store.journal.write(integration, "info", "order-status-sync.skipped", message)
                return {"integration": integration, "skipped": message}
            held.enter_context(tags(f"integration:{integration}", "order-status-sync"))
            sweep_abandoned_runs(integration)  # the lock is ours: a run still shown Running is dead
            try:
                result = sync_statuses(run)
            except Exception as exc:
                store.journal.write(integration, "error", "order-status-sync.failed", f"status sync failed: {exc}")
                raise
        seconds = round(time.monotonic() - started, 2)
        rows: list[dict[str, Any]] = [
            {"what": "order states read", "count": result.states_read},
            {"what": "of them orders from the channel", "count": result.ours},
            {"what": "statuses set on the channel", "count": result.sent},
            {"what": "statuses the channel has already", "count": result.unchanged},
            {"what": "states not mapped (undefined, journaled)", "count": len(result.undefined)},
            {"what": "statuses the channel refused (journaled)", "count": len(result.refused)},
            *requests_rows(request_stats().since(before)), {"what": "duration, s", "count": seconds},
        ]
        publish_summary(f"order-status-sync-{integration}", rows,
                        f"Order statuses of {integration} ({trigger}): {run.source} -> {run.target}")
        store.journal.write(integration, "warning" if result.undefined or result.refused else "info",
                            "order-status-sync.done", f"status sync: {result.states_read} states read, "
                            f"{result.sent} statuses set", {"trigger": trigger})
        return {"integration": integration, "trigger": trigger, "states_read": result.states_read,
                "ours": result.ours, "sent": result.sent, "unchanged": result.unchanged,
                "undefined": dict(result.undefined), "refused": dict(result.refused), "seconds": seconds,
                "rows": rows}
    finally:
        store.close()
