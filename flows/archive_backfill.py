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

from datetime import date

from prefect import flow

from hub.exchanges import ARCHIVE_BACKFILL, RunResult
from tasks.exchange import Exchange, Outcome, run_exchange
from tasks.orders.backfill import (
    MAX_PAGES,
    Backfilled,
    Window,
    backfill_outcome,
    backfill_window,
    nothing_to_do,
    unfinished,
    window,
)
from tasks.orders.stage import OrderRun, plan_order_run


def backfill(ex: Exchange[OrderRun], wanted: Window | None, max_pages: int) -> Outcome:
    """The window asked for, or every one a run left unfinished: each from its cursor, page by page."""
    run = ex.run
    windows = [wanted] if wanted else unfinished(run)
    if not windows:
        return nothing_to_do(run.name)
    results: list[Backfilled] = []
    for win in windows:
        ex.explain = lambda exc, stream=win.stream: (
            f"archive backfill {stream} failed (the next run goes on from page "
            f"{run.store.cursors.get(run.name, stream) or 1}): {exc}"
        )
        results.append(backfill_window(run, win, max_pages))
    ex.explain = None
    return backfill_outcome(results, run.name)


@flow(name="archive-backfill", flow_run_name="archive-backfill/{integration}", log_prints=False)  # type: ignore[arg-type]
def archive_backfill(
    integration: str,
    config_path: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    statuses: list[str] | None = None,
    max_pages: int = MAX_PAGES,
    trigger: str = "schedule",
) -> RunResult:
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
    return run_exchange(
        ARCHIVE_BACKFILL, integration, config_path, plan_order_run, lambda ex: backfill(ex, wanted, max_pages), trigger
    )
