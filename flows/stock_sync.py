"""Stock sync: what moved at the stock source reaches the channel, in one read and few writes.

A cycle reads stock changed since the last one (or all of it when due: see
:mod:`tasks.stock_cycle`), works out the channel's stock by the seed modules' rules, and sends only
what differs from what the channel last accepted, in batches of the channel's size through the
exchange queue. It runs on a schedule (every 10 minutes by default) and, in the long-running
process, within seconds of a stock webhook (:mod:`deployments.webhooks`).

It holds the ``inventories`` run lock, like the full import: a cycle that finds it taken says so
and ends cleanly (the next one catches up). The cursor moves only once every batch of the cycle
was accepted; a cycle whose batches were refused fails and the next reads the same window again.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger, tags

from connectors.http import request_stats
from hub.store import ExchangeBusyError
from tasks.hub_tasks import load_config_task, open_hub_store
from tasks.publish import INVENTORIES, UploadsFailed, drain
from tasks.reporting import publish_summary, requests_rows
from tasks.run_crashes import sweep_abandoned_runs
from tasks.stock_cycle import Cursor, plan_stock_run, read_and_queue, summary_rows


@flow(name="stock-sync", flow_run_name="stock-sync/{integration}", log_prints=False)  # type: ignore[arg-type]
def stock_sync(
    integration: str,
    config_path: str | None = None,
    full: bool = False,
    trigger: str = "schedule",
    noticed_at: str | None = None,
    batches_per_task: int = 40,
) -> dict[str, Any]:
    """One stock-sync cycle of ``integration``.

    Args:
        integration: the integration's name in the config.
        config_path: the config file (default: ``$SKLADBRIDGE_CONFIG`` or ``./skladbridge.yaml``).
        full: read all stock, not only what changed (a reconciliation).
        trigger: what started the cycle (``schedule``, ``webhook``, ``cli``), for the summary.
        noticed_at: ISO time the earliest change this cycle carries was notified (webhook path):
            the summary's lag is measured from it.
        batches_per_task: upload batches per task run.
    """
    logger = get_run_logger()
    started, before = time.monotonic(), request_stats().by_endpoint()
    config = load_config_task(config_path)
    store = open_hub_store(config)
    try:
        run = plan_stock_run(config, integration, store)
        with ExitStack() as held:
            try:
                held.enter_context(store.locks.hold(integration, INVENTORIES))
            except ExchangeBusyError:
                message = "another run is sending stock of this integration: this cycle is skipped, the next catches up"
                logger.info(message)
                store.journal.write(integration, "info", "stock-sync.skipped", message)
                return {"integration": integration, "skipped": message}
            try:
                held.enter_context(tags(f"integration:{integration}", "stock-sync"))
                sweep_abandoned_runs(integration)  # the lock is ours: a run still shown Running is dead
                # claims a killed cycle left would wait for their lease: the lock says nobody holds them
                released = store.queue.release(integration=integration, kind=INVENTORIES)
                cursor = Cursor.load(run)
                result = read_and_queue(run, force_full=full)
                uploaded = drain(run, INVENTORIES, batches_per_task)
                if not uploaded.unfinished:
                    # everything this cycle read is in the channel: the next cycle may start after it
                    Cursor(result.read_at, result.read_at if result.full else cursor.full_at,
                           run.integ.options.stock.measure).save(run)
            except Exception as exc:
                store.journal.write(integration, "error", "stock-sync.failed", f"stock sync failed: {exc}")
                raise

        spent = request_stats().since(before)
        seconds = round(time.monotonic() - started, 2)
        rows = [*summary_rows(result),
                {"what": "batches sent", "count": uploaded.batches},
                {"what": "offers sent", "count": uploaded.entries}]
        if uploaded.not_found:
            rows.append({"what": "offers the channel refused as unknown in this cycle",
                         "count": len(uploaded.not_found)})
        if uploaded.unfinished:
            rows.append({"what": "batches not accepted (cursor kept: the next cycle reads again)",
                         "count": uploaded.unfinished})
        lag = _lag(noticed_at)
        rows += [*requests_rows(spent), {"what": "duration, s", "count": seconds},
                 *([{"what": "lag from the notification, s", "count": lag}] if lag is not None else [])]
        publish_summary(f"stock-sync-{integration}", rows,
                        f"Stock sync of {integration} ({trigger}): {run.source} -> {run.target}")
        summary: dict[str, Any] = {
            "integration": integration, "trigger": trigger, "full": result.full, "why": result.why,
            "rows_read": result.rows_read, "offers_affected": result.offers_affected,
            "offers_changed": result.offers_changed, "batches_sent": uploaded.batches,
            "offers_sent": uploaded.entries, "not_found": len(uploaded.not_found),
            "unknown_to_channel": result.unknown_to_channel,
            "not_in_catalog": result.not_in_catalog, "released_claims": released, "seconds": seconds, "lag": lag,
            "requests": {system: asdict(spent.total(system)) for system in spent.systems()}, "rows": rows,
        }
        level = "error" if uploaded.unfinished else "warning" if uploaded.not_found else "info"
        store.journal.write(integration, level, "stock-sync.done",
                            f"stock sync: {result.rows_read} rows read, {result.offers_changed} offers changed, "
                            f"{uploaded.batches} batches sent", {k: summary[k] for k in ("full", "trigger")})
        if uploaded.unfinished:
            raise UploadsFailed(f"stock sync of {integration}: {uploaded.unfinished} batches not accepted "
                                f"({uploaded.dead} refused for good): {uploaded.errors[:3]}")
        return summary
    finally:
        store.close()


def _lag(noticed_at: str | None) -> float | None:
    if not noticed_at:
        return None
    noticed = datetime.fromisoformat(noticed_at)
    if noticed.tzinfo is None:
        noticed = noticed.replace(tzinfo=UTC)
    return round((datetime.now(UTC) - noticed).total_seconds(), 2)
