"""Archive backfill: the channel's past orders of a date range (and statuses) to the ERP (docs/orders.md).

Given a range (``date_from``..``date_to``, whole days in the integration's ``periods.timezone``), a run
reads its pages from the window's cursor, stages each, links the orders the ERP holds already (found
by the channel's id) and plans and sends the rest through the upload's own planner and sender; a run
interrupted goes on, next time, from the page after the last one done. Without a range (the
scheduled deployment) a run goes on with every window of the integration a run began and did not
finish, and ends at once when there is none: a backfill is started on demand, and the schedule only
carries on what a run left (one holds the ``orders`` run lock at most ``MAX_PAGES`` pages).

It holds the ``orders`` run lock: it and the order upload never send at once. A progress artifact
follows the pages; a summary table ends the run. Orders the ERP refused fail the run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict
from datetime import date
from typing import Any

from prefect import flow, get_run_logger, tags

from connectors.http import request_stats
from hub.store import ExchangeBusyError
from tasks.hub_tasks import load_config_task, open_hub_store
from tasks.orders_backfill import MAX_PAGES, Backfilled, Window, backfill_window, summary_rows, unfinished, window
from tasks.orders_stage import ORDERS, plan_order_run
from tasks.publish import UploadsFailed
from tasks.reporting import Progress, publish_summary, requests_rows
from tasks.run_crashes import sweep_abandoned_runs

#: the run locks this flow takes (the CLI probes them before Prefect starts)
STREAMS = (ORDERS,)


def _on_page(progress: Progress) -> Callable[[Backfilled], None]:
    """The channel tells no page count ahead: a page done of those known so far (one more while more)."""

    def update(done: Backfilled) -> None:
        progress.update(done.pages, done.pages + (0 if done.done else 1))

    return update


@flow(name="archive-backfill", flow_run_name="archive-backfill/{integration}", log_prints=False)  # type: ignore[arg-type]
def archive_backfill(integration: str, config_path: str | None = None, date_from: date | None = None,
                     date_to: date | None = None, statuses: list[str] | None = None, max_pages: int = MAX_PAGES,
                     trigger: str = "schedule") -> dict[str, Any]:
    """Backfill ``integration``'s orders created from ``date_from`` to ``date_to`` in ``statuses``.

    Args:
        integration: the integration's name in the config.
        config_path: the config file (default: ``$SKLADBRIDGE_CONFIG`` or ``./skladbridge.yaml``).
        date_from: the first day (in the integration's ``periods.timezone``); with ``date_to``, or neither:
            then the run goes on with the windows runs left unfinished.
        date_to: the last day (inclusive).
        statuses: channel statuses to take (none: all, whatever ``options.orders.upload_statuses`` says).
        max_pages: pages this run reads at most (the next run goes on from the cursor).
        trigger: what started the run (``schedule``, ``cli``), for the summary.
    """
    if (date_from is None) != (date_to is None):
        raise ValueError("give both date_from and date_to, or neither (then unfinished backfills go on)")
    wanted = window(date_from, date_to, statuses) if date_from and date_to else None
    logger = get_run_logger()
    started, before = time.monotonic(), request_stats().by_endpoint()
    config = load_config_task(config_path)
    store = open_hub_store(config)
    try:
        run = plan_order_run(config, integration, store)
        windows: list[Window] = [wanted] if wanted else unfinished(run)
        if not windows:
            logger.info("no archive backfill of %s is unfinished: nothing to do", integration)
            return {"integration": integration, "trigger": trigger, "windows": [], "rows": [], "accepted": 0,
                    "created": 0, "linked": 0, "done": True}
        with ExitStack() as held:
            try:
                held.enter_context(store.locks.hold(integration, ORDERS))
            except ExchangeBusyError:
                message = "another run is uploading orders of this integration: the backfill waits for the next run"
                logger.info(message)
                store.journal.write(integration, "info", "archive-backfill.skipped", message)
                return {"integration": integration, "skipped": message}
            held.enter_context(tags(f"integration:{integration}", "archive-backfill"))
            sweep_abandoned_runs(integration)  # the lock is ours: a run still shown Running is dead
            released = store.queue.release(integration=integration, kind=ORDERS)
            results: list[Backfilled] = []
            for win in windows:
                progress = Progress(f"{integration}: archive {win.stream}, pages staged and sent")
                try:
                    results.append(backfill_window(run, win, max_pages, _on_page(progress)))
                except Exception as exc:
                    store.journal.write(integration, "error", "archive-backfill.failed",
                                        f"archive backfill {win.stream} failed (the next run goes on from "
                                        f"page {store.cursors.get(integration, win.stream) or 1}): {exc}")
                    raise
        spent = request_stats().since(before)
        seconds = round(time.monotonic() - started, 2)
        rows = [*summary_rows(results), *requests_rows(spent), {"what": "duration, s", "count": seconds}]
        publish_summary(f"archive-backfill-{integration}", rows,
                        f"Archive backfill of {integration} ({trigger}): {run.source} -> {run.target}")
        total = {k: sum(getattr(r.sent, k) for r in results) for k in ("accepted", "created", "refused")}
        summary: dict[str, Any] = {
            "integration": integration, "trigger": trigger, "windows": [r.window.stream for r in results],
            "pages": sum(r.pages for r in results), "orders_read": sum(r.orders_read for r in results),
            "linked": sum(r.linked for r in results), "queued": sum(r.queued for r in results),
            "parked": sum(r.parked for r in results), "unchanged": sum(r.unchanged for r in results),
            **total, "done": all(r.done for r in results), "released_claims": released, "seconds": seconds,
            "parked_reasons": {k: v for r in results for k, v in r.reasons.items()},
            "requests": {system: asdict(spent.total(system)) for system in spent.systems()}, "rows": rows,
        }
        level = "error" if total["refused"] else "warning" if summary["parked"] else "info"
        store.journal.write(integration, level, "archive-backfill.done",
                            f"archive backfill {', '.join(summary['windows'])}: {summary['orders_read']} orders "
                            f"read, {summary['linked']} linked, {summary['queued']} queued, {summary['parked']} "
                            f"parked, {total['accepted']} accepted ({total['created']} new)"
                            + ("" if summary["done"] else "; more pages left"), {"trigger": trigger})
        if total["refused"]:
            errors = [e for r in results for e in r.sent.errors][:3]
            raise UploadsFailed(f"archive backfill of {integration}: {total['refused']} orders not accepted: {errors}")
        return summary
    finally:
        store.close()
