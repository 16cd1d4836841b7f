"""Archive backfill: the channel's orders of a past period to the ERP, page by page (docs/orders.md).

A *window* is a date range (whole days in the integration's ``periods.timezone``) and a set of
statuses (none: all). Its pages come from :meth:`OrderSource.orders_in_period`; each page is staged
in the hub as the upload stages orders, every order of it counts for upload whatever
``options.orders.upload_statuses`` says (the statuses asked for are the backfill's rule), orders the
ERP holds already (:meth:`OrderSink.find_orders` by the channel's id) are linked and accepted as they
are, and the rest are planned and sent by the upload's own planner and sender. The window's cursor
(``store.cursors``, stream ``archive:<from>:<to>[:<statuses>]``) moves past a page once it is staged,
linked and planned, so an interrupted run continues from the page after it; when the last page is
done the cursor says ``done`` (a run of the same window later makes a new pass that creates nothing
the ERP has). Pacing is the clients' budgets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from prefect import task
from prefect.cache_policies import NONE

from hub.capabilities import WRITE_ERP_ID, CustomerBook, OrderSink, OrderSource, StatusSink
from hub.exchanges import ARCHIVE_CURSOR_PREFIX, ARCHIVE_DONE
from hub.systems import connector
from tasks.clients import open_capability, with_capabilities
from tasks.exchange import Outcome
from tasks.orders.books import plan_with_books
from tasks.orders.plan import OrderPlanner
from tasks.orders.send import Sent, attach_links, linked_ids, send_queued
from tasks.orders.stage import ELIGIBLE, ORDERS, OrderRun, contents, stage
from tasks.orders.writes import recorded
from tasks.reporting import Progress

PREFIX = ARCHIVE_CURSOR_PREFIX
DONE = ARCHIVE_DONE
#: pages one run reads at most (it holds the ``orders`` run lock; the next run goes on from the cursor)
MAX_PAGES = 50


@dataclass(frozen=True)
class Window:
    """What one backfill reads: orders created from ``first`` to ``last`` (whole days) in ``statuses``."""

    first: date
    last: date
    statuses: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.first > self.last:
            raise ValueError(f"the backfill's first day {self.first} is after its last day {self.last}")

    @property
    def stream(self) -> str:
        tail = f":{','.join(self.statuses)}" if self.statuses else ""
        return f"{PREFIX}:{self.first.isoformat()}:{self.last.isoformat()}{tail}"

    def bounds(self, tz: str) -> tuple[datetime, datetime]:
        """``[first 00:00, the day after last 00:00)`` in ``tz``."""
        zone = ZoneInfo(tz)
        return (
            datetime.combine(self.first, time(), zone),
            datetime.combine(self.last + timedelta(days=1), time(), zone),
        )


def window(first: date, last: date, statuses: Sequence[str] | None = None) -> Window:
    return Window(first, last, tuple(sorted(set(statuses or ()))))


def window_of(stream: str) -> Window | None:
    """The window a cursor stream names (None: not an archive stream)."""
    parts = stream.split(":", 3)
    if len(parts) < 3 or parts[0] != PREFIX:
        return None
    try:
        return window(
            date.fromisoformat(parts[1]), date.fromisoformat(parts[2]), parts[3].split(",") if len(parts) == 4 else None
        )
    except ValueError:
        return None


def unfinished(run: OrderRun) -> list[Window]:
    """Windows of this integration a run began and did not finish (what a scheduled run goes on with)."""
    cursors = run.store.cursors.all(run.name)
    found = [
        (w, value)
        for stream, value in cursors.items()
        if isinstance(stream, str) and (w := window_of(stream)) is not None
    ]
    return sorted((w for w, value in found if value != DONE), key=lambda w: w.stream)


class UnknownStatuses(ValueError):
    """The backfill asks for statuses the channel does not have: it would read nothing and say done."""


async def check_statuses(run: OrderRun, win: Window) -> None:
    """Refuse a window whose statuses are not all the channel's own (when the channel lists them).

    Raises:
        UnknownStatuses: naming each unknown status and the channel's codes.
    """
    if not win.statuses or not connector(run.source_system).can(StatusSink):
        return
    async with open_capability(run.integ, run.source, StatusSink) as channel:
        known = list(await channel.statuses())
    unknown = [status for status in win.statuses if status not in known]
    if unknown:
        raise UnknownStatuses(
            f"archive backfill: {', '.join(map(repr, unknown))} "
            f"{'is not a status' if len(unknown) == 1 else 'are not statuses'} of "
            f"{run.integ.systems[run.source].system} ({run.source}); its statuses: "
            f"{', '.join(sorted(known))}"
        )


@dataclass
class Backfilled:
    """What a run did with one window."""

    window: Window
    resumed_from: str | None = None  # the page the run began at (None: the first)
    pages: int = 0
    orders_read: int = 0
    linked: int = 0  # found in the ERP by the channel's id: linked, not created
    queued: int = 0
    parked: int = 0
    unchanged: int = 0
    done: bool = False
    next_page: str | None = None
    sent: Sent = field(default_factory=Sent)
    reasons: dict[str, str] = field(default_factory=dict)


def _add(total: Sent, more: Sent) -> None:
    for name in (
        "batches",
        "accepted",
        "created",
        "refused",
        "skipped",
        "customers_found",
        "customers_created",
        "erp_ids_not_written",
    ):
        setattr(total, name, getattr(total, name) + getattr(more, name))
    total.errors += more.errors


async def _link_existing(run: OrderRun, ids: list[str], sink: OrderSink, source: OrderSource) -> int:
    """Orders the ERP holds already (and the hub has no link of): linked, and accepted as they are."""
    known = linked_ids(run, ORDERS, ids)
    unknown = [oid for oid in ids if oid not in known]
    found = await sink.find_orders(unknown) if unknown else {}
    if not found:
        return 0
    attach_links(run, ORDERS, found)
    run.store.snapshots.save(run.name, ORDERS, {oid: c.hash for oid, c in contents(run, list(found)).items()})
    refused = await recorded(run.store, run.name, run.source, WRITE_ERP_ID, found, lambda: source.record_erp_ids(found))
    for oid, why in refused.items():
        run.store.journal.write(
            run.name, "warning", "orders.erp-id-not-written", why, {"order_id": oid, "erp_id": found[oid]}
        )
    return len(found)


async def backfill(
    run: OrderRun,
    win: Window,
    source: OrderSource,
    sink: OrderSink,
    book: CustomerBook,
    *,
    max_pages: int = MAX_PAGES,
    on_page: Callable[[Backfilled], None] | None = None,
) -> Backfilled:
    """Read, stage, link, plan and send the window's pages from its cursor, at most ``max_pages``."""
    cursors, stream = run.store.cursors, win.stream
    start, end = win.bounds(run.integ.periods.timezone)
    at = cursors.get(run.name, stream)
    page = None if at in (None, DONE) else at
    result = Backfilled(win, resumed_from=page)
    planner = OrderPlanner(run)
    for _ in range(max_pages):
        batch = await source.orders_in_period(start, end, win.statuses, page)
        staged = stage(run, batch)
        if staged.order_ids:  # the window's statuses are the rule here, not options.orders.upload_statuses
            run.store.records.upsert_frame(
                run.name, ELIGIBLE, run.source_system, pd.DataFrame({"order_id": staged.order_ids}), "order_id"
            )
            result.linked += await _link_existing(run, staged.order_ids, sink, source)
            due = planner.candidates(staged.order_ids)
            result.unchanged += len(staged.order_ids) - len(due)
            if due:
                await plan_with_books(planner, run, sink, due)
        result.pages += 1
        result.orders_read += len(staged.order_ids)
        page = batch.cursor if batch.more else None
        cursors.set(run.name, stream, page or DONE)  # after the page is staged, linked and planned
        result.next_page, result.done = page, page is None
        _add(result.sent, await send_queued(run, sink, book, source, worker=f"{run.name}-archive"))
        if on_page is not None:  # in a thread: Prefect's client calls are sync only outside an event loop
            await asyncio.to_thread(on_page, result)
        if page is None:
            break
    planned = planner.planned
    result.queued, result.parked, result.reasons = planned.queued, planned.parked, dict(planned.reasons)
    result.unchanged += planned.unchanged
    return result


@task(name="backfill-window", cache_policy=NONE)
def backfill_window(
    run: OrderRun, win: Window, max_pages: int = MAX_PAGES, on_page: Callable[[Backfilled], None] | None = None
) -> Backfilled:
    """One window's pages from its cursor, staged, linked, planned and sent (``on_page``: after each page;
    by default a progress artifact follows the pages)."""
    on_page = on_page or page_progress(run, win)

    async def window_pages(source: OrderSource, sink: OrderSink, book: CustomerBook) -> Backfilled:
        await check_statuses(run, win)  # before a page is read: unknown statuses would read nothing
        return await backfill(run, win, source, sink, book, max_pages=max_pages, on_page=on_page)

    return with_capabilities(
        run.integ, (run.source, OrderSource), (run.target, OrderSink), (run.target, CustomerBook), step=window_pages
    )


def summary_rows(results: Sequence[Backfilled]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for r in results:
        name = r.window.stream
        where = f"resumed from page {r.resumed_from}" if r.resumed_from else "from the first page"
        rows += [
            {"what": f"{name}: pages read ({where})", "count": r.pages},
            {"what": f"{name}: orders read", "count": r.orders_read},
            {"what": f"{name}: orders found in the ERP, linked", "count": r.linked},
            {"what": f"{name}: orders unchanged since accepted", "count": r.unchanged},
            {"what": f"{name}: orders queued", "count": r.queued},
            {"what": f"{name}: orders parked (see `skladbridge queue list`)", "count": r.parked},
            {"what": f"{name}: orders accepted by the ERP", "count": r.sent.accepted},
            {"what": f"{name}: of them new in the ERP", "count": r.sent.created},
            {"what": f"{name}: customers created", "count": r.sent.customers_created},
        ]
        if r.sent.refused:
            rows.append({"what": f"{name}: orders the ERP refused or could not take", "count": r.sent.refused})
        if not r.done:
            rows.append({"what": f"{name}: more pages left (the next run goes on from page {r.next_page})", "count": 1})
    return rows


def backfill_outcome(results: Sequence[Backfilled], integration: str) -> Outcome:
    """The summary of one backfill run over its windows; orders the ERP refused fail the run."""
    total = {k: sum(getattr(r.sent, k) for r in results) for k in ("accepted", "created", "refused")}
    windows = [r.window.stream for r in results]
    parked, done = sum(r.parked for r in results), all(r.done for r in results)
    summary: dict[str, Any] = {
        "windows": windows,
        "pages": sum(r.pages for r in results),
        "orders_read": sum(r.orders_read for r in results),
        "linked": sum(r.linked for r in results),
        "queued": sum(r.queued for r in results),
        "parked": parked,
        "unchanged": sum(r.unchanged for r in results),
        **total,
        "done": done,
        "parked_reasons": {k: v for r in results for k, v in r.reasons.items()},
    }
    errors = [e for r in results for e in r.sent.errors][:3]
    return Outcome(
        rows=summary_rows(results),
        summary=summary,
        line=f"archive backfill {', '.join(windows)}: {summary['orders_read']} orders read, {summary['linked']} "
        f"linked, {summary['queued']} queued, {parked} parked, {total['accepted']} accepted "
        f"({total['created']} new)" + ("" if done else "; more pages left"),
        level="error" if total["refused"] else "warning" if parked else "info",
        failure=f"archive backfill of {integration}: {total['refused']} orders not accepted: {errors}"
        if total["refused"]
        else None,
    )


def nothing_to_do(integration: str) -> Outcome:
    """A scheduled run with no unfinished window: a log line, no artifact, no journal entry."""
    return Outcome(
        rows=[],
        line=f"no archive backfill of {integration} is unfinished: nothing to do",
        summary={"windows": [], "accepted": 0, "created": 0, "linked": 0, "done": True},
        report=False,
    )


def page_progress(run: OrderRun, win: Window) -> Callable[[Backfilled], None]:
    """A progress artifact following a window's pages. The channel tells no page count ahead: a page
    done of those known so far (one more while there are more)."""
    progress = Progress(f"{run.name}: archive {win.stream}, pages staged and sent")

    def update(done: Backfilled) -> None:
        progress.update(done.pages, done.pages + (0 if done.done else 1))

    return update
