"""Stock sync: what moved at the stock source reaches the channel, in one read and few writes.

A cycle reads stock changed since the last one (or all of it when due: see
:mod:`tasks.stock.cycle`), works out the channel's stock by the seed modules' rules, and sends only
what differs from what the channel last accepted, in batches of the channel's size through the
exchange queue. It runs on a schedule (every 10 minutes by default) and, in the long-running
process, within seconds of a stock webhook (:mod:`deployments.service.webhooks`).

It holds the ``inventories`` run lock, like the full import: a cycle that finds it taken says so
and ends cleanly (the next one catches up). The cursor moves only once every batch of the cycle
was accepted; a cycle whose batches were refused fails and the next reads the same window again.
"""

from __future__ import annotations

from prefect import flow

from hub.exchanges import INVENTORIES, STOCK_SYNC, RunResult
from tasks.exchange import Exchange, Outcome, run_exchange
from tasks.publish import drain
from tasks.stock.cycle import Cursor, StockRun, lag_since, plan_stock_run, read_and_queue, sync_outcome


def sync(ex: Exchange[StockRun], full: bool, batches_per_task: int, noticed_at: str | None) -> Outcome:
    """Read what moved, queue what differs, send it; move the cursor once all of it was accepted."""
    run = ex.run
    cursor = Cursor.load(run)
    result = read_and_queue(run, force_full=full)
    uploaded = drain(run, INVENTORIES, batches_per_task)
    if not uploaded.unfinished:
        # everything this cycle read is in the channel: the next cycle may start after it
        full_at = result.read_at if result.full else cursor.full_at
        Cursor(result.read_at, full_at, run.integ.options.stock.measure).save(run)
    return sync_outcome(result, uploaded, run.name, lag_since(noticed_at))


@flow(name="stock-sync", flow_run_name="stock-sync/{integration}", log_prints=False)  # type: ignore[arg-type]
def stock_sync(
    integration: str,
    config_path: str | None = None,
    full: bool = False,
    trigger: str = "schedule",
    noticed_at: str | None = None,
    batches_per_task: int = 40,
) -> RunResult:
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
    return run_exchange(
        STOCK_SYNC,
        integration,
        config_path,
        plan_stock_run,
        lambda ex: sync(ex, full, batches_per_task, noticed_at),
        trigger,
    )
