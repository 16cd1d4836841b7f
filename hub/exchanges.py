"""The names the exchanges share with the store and the entry points: run locks, queue kinds, cursor
streams, and the result of a run that found its exchange busy.

A run lock and the queue kind of its outbound work have the same name, and the order upload and
status sync keep their cursors under that name too (the stored values: renaming one is a migration).
The long-running process, the CLI and the flows all ask :func:`skipped_reason` whether a run
skipped, instead of each reading the summary its own way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

#: stock to the channel (the full import, the catalog feed, stock sync and reconciliation)
INVENTORIES = "inventories"
#: prices to the channel (the full import and the catalog feed)
PRICES = "prices"
#: orders to the ERP (order upload and archive backfill: they never send at once)
ORDERS = "orders"
#: order statuses back to the channel
STATUSES = "statuses"
#: the ERP documents of orders (shipments, returns, payments)
DOCUMENTS = "documents"
#: the two-way exchanges: customers both ways, order changes and retail sales back to the channel
TWO_WAY = "two-way"

#: the stock-sync cursor stream: the time of the last stock change sent
STOCK_SYNC_CURSOR = "stock-sync"
#: the cursor of payment documents read back from the ERP (order documents): the last read's start
DOCUMENT_PAYMENTS_CURSOR = "document-payments"
#: the cursor of ERP orders read back for their custom fields and owner (order fields): the last read's start
ORDER_FIELDS_CURSOR = "order-fields"
#: archive backfill cursor streams are ``archive:<first day>:<last day>[:<statuses>]``
ARCHIVE_CURSOR_PREFIX = "archive"
#: the value of an archive window's cursor once the window is read to its end
ARCHIVE_DONE = "done"

#: the key of a summary that says its run was skipped, and why
SKIPPED = "skipped"


class SkippedRun(TypedDict):
    """The result of a run that found another one holding its locks (a plain mapping on the wire:
    Prefect stores it, the CLI prints it as JSON)."""

    integration: str
    skipped: str


#: what an exchange run returns: its summary, or why it skipped
RunResult = dict[str, Any] | SkippedRun


def skipped(integration: str, why: str) -> SkippedRun:
    """The result of a run that found another one holding its locks: it did nothing, and says why."""
    return SkippedRun(integration=integration, skipped=why)


def ran(result: RunResult) -> dict[str, Any] | None:
    """The summary of a run that ran; None for a run that skipped (:func:`skipped_reason` says why)."""
    return None if skipped_reason(result) is not None else dict(result)


def skipped_reason(result: object) -> str | None:
    """Why a run skipped (its one line), or None when it ran (or ``result`` is no summary at all)."""
    if isinstance(result, Mapping) and isinstance(result.get(SKIPPED), str):
        return str(result[SKIPPED])
    return None


@dataclass(frozen=True)
class ExchangeSpec:
    """An exchange as the scaffold sees it: its names, its locks and what a busy lock means."""

    #: the Prefect flow's name and the prefix of its journal events (``order-upload.done``)
    name: str
    #: what a failure is called in the journal (``order upload`` failed: …)
    what: str
    #: the summary artifact's description; ``{integration}``, ``{trigger}``, ``{source}``, ``{target}``
    title: str
    #: the run locks (and the queue kinds whose stale claims are released under them)
    locks: tuple[str, ...]
    #: the line a run that finds its locks taken ends with; None: a busy lock fails the run
    busy: str | None = None
    #: write a ``<name>.start`` journal entry (with the claims released) before the body runs
    announce: bool = False


FULL_IMPORT = ExchangeSpec(
    "full-import",
    "full import",
    "Full import of {integration}: {source} -> hub -> {target}",
    (INVENTORIES, PRICES),
    announce=True,
)  # one run publishes an integration's stock and prices: a second one fails, never waits
STOCK_SYNC = ExchangeSpec(
    "stock-sync",
    "stock sync",
    "Stock sync of {integration} ({trigger}): {source} -> {target}",
    (INVENTORIES,),
    busy="another run is sending stock of this integration: this cycle is skipped, the next catches up",
)
ORDER_UPLOAD = ExchangeSpec(
    "order-upload",
    "order upload",
    "Order upload of {integration} ({trigger}): {source} -> {target}",
    (ORDERS,),
    busy="another run is uploading orders of this integration: this cycle is skipped",
)
ARCHIVE_BACKFILL = ExchangeSpec(
    "archive-backfill",
    "archive backfill",
    "Archive backfill of {integration} ({trigger}): {source} -> {target}",
    (ORDERS,),
    busy="another run is uploading orders of this integration: the backfill waits for the next run",
)
ORDER_STATUS_SYNC = ExchangeSpec(
    "order-status-sync",
    "status sync",
    "Order statuses of {integration} ({trigger}): {source} -> {target}",
    (STATUSES,),
    busy="another run is syncing order statuses of this integration: this cycle is skipped",
)

ORDER_DOCUMENTS = ExchangeSpec(
    "order-documents",
    "order documents",
    "Order documents of {integration} ({trigger}): {source} -> {target}",
    (DOCUMENTS,),
    busy="another run is making order documents of this integration: this cycle is skipped",
)

TWO_WAY_SYNC = ExchangeSpec(
    "two-way-sync",
    "two-way sync",
    "Two-way sync of {integration} ({trigger}): {source} <-> {target}",
    (TWO_WAY,),
    busy="another run is syncing customers and order changes of this integration: this cycle is skipped",
)

#: flow module -> the exchange it runs (the CLI probes the locks before Prefect starts)
BY_FLOW: dict[str, ExchangeSpec] = {
    "full_import": FULL_IMPORT,
    "catalog_feed": FULL_IMPORT,
    "stock_sync": STOCK_SYNC,
    "stock_reconcile": STOCK_SYNC,
    "order_upload": ORDER_UPLOAD,
    "archive_backfill": ARCHIVE_BACKFILL,
    "order_status_sync": ORDER_STATUS_SYNC,
    "order_documents": ORDER_DOCUMENTS,
    "two_way_sync": TWO_WAY_SYNC,
}
