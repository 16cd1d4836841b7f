"""The publish pipeline: snapshot diff → batches sized by the sink → exchange queue → send →
accepted / not found / failed. Every stock and price upload uses it (the full import, the catalog feed and
stock sync); orders go through their own planner and sender on the same queue (:mod:`tasks.orders.send`).

A sink (:class:`hub.capabilities.BatchSink`) says how big a batch may be and which source id an
entry is about; the pipeline does the rest:

* **Diff.** An entry is queued when its hash differs from the snapshot of what the sink last
  accepted for that id (or always, in a resend).
* **Queue.** A batch's idempotency key is the hash of its *transition* (each entry's id, the
  snapshot value it replaces and its new hash), so a retried batch is the same item while a value
  that legitimately returns (5 → 3 → 5) is a new one.
* **Send.** The accepted entries' snapshots are saved, then the item is completed: a crash in
  between re-sends absolute values (harmless). An entry the sink did not know (``not_found``) does
  *not* complete its transition: its snapshot becomes a marker naming this queue item, so the next
  plan sees a new transition and sends it again, once, instead of re-finding a done batch.
* **Failures** stay in the queue, retryable or dead, and are counted so the run can fail.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from prefect import task
from prefect.cache_policies import NONE

from connectors.http import ConnectorError
from hub.capabilities import BatchSink, Entry, PriceSink, StockEchoes, StockSink
from hub.config import Integration
from hub.exchanges import INVENTORIES, PRICES
from hub.store import QueueStatus, Store
from hub.store.db import chunked
from tasks.clients import with_capabilities
from tasks.reporting import Progress
from tasks.stock.echoes import record_sent

#: upload stream -> the capability its sink implements
SINKS: dict[str, type[BatchSink]] = {INVENTORIES: StockSink, PRICES: PriceSink}
#: what each upload stream carries, in the merchant's words (task run names)
CARRIES = {INVENTORIES: "stock", PRICES: "prices"}
#: what a snapshot holds for an entry the sink did not know (followed by the queue item's id)
REFUSED = "not-found:"


class Lane(Protocol):
    """Who publishes: an integration, its store, the source the ids come from, the sink's alias."""

    @property
    def name(self) -> str: ...

    @property
    def integ(self) -> Integration: ...

    @property
    def store(self) -> Store: ...

    @property
    def target(self) -> str: ...

    @property
    def resend_token(self) -> str | None: ...

    @property
    def source_system(self) -> str: ...

    @property
    def target_system(self) -> str: ...


def digest(value: Any) -> str:
    return hashlib.sha1(json.dumps(value, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


@dataclass
class Planned:
    """Upload batches a plan step put in the queue."""

    entries: int = 0
    changed: int = 0
    batches: int = 0
    refused_waiting: int = 0  # entries the channel did not know, left for the next catalog publication


class UploadPlanner:
    """Queues the entries that differ from the snapshot, slice after slice, in full batches.

    Changed entries wait until a batch is full (fewer than one batch is ever held), so slicing
    costs no extra request; :meth:`finish` queues the last, partial batch.
    """

    def __init__(self, lane: Lane, stream: str, sink: BatchSink, *, retry_refused: bool = True) -> None:
        """``retry_refused``: send again entries the channel did not know last time. A catalog
        publication does (it is what teaches the channel new offers); stock sync does not, or every
        cycle would send them again to no avail."""
        self.lane, self.stream, self.sink = lane, stream, sink
        self.retry_refused = retry_refused
        self.size = sink.max_batch
        self.planned = Planned()
        # (entry, its ref, hash last sent, hash now)
        self._waiting: list[tuple[Entry, str, str | None, str]] = []

    def add(self, entries: list[Entry]) -> None:
        refs = [self.sink.ref(e) for e in entries]
        new_hashes = {ref: digest(e) for ref, e in zip(refs, entries, strict=True)}
        # a resend ignores what was last sent (the channel lost data, or someone edited it by hand)
        old_hashes = (
            {}
            if self.lane.resend_token
            else self.lane.store.snapshots.hashes(self.lane.name, self.stream, list(new_hashes))
        )
        self.planned.entries += len(entries)
        for entry, ref in zip(entries, refs, strict=True):
            if not self.retry_refused and (old_hashes.get(ref) or "").startswith(REFUSED):
                self.planned.refused_waiting += 1
                continue
            if old_hashes.get(ref) != new_hashes[ref]:
                self._waiting.append((entry, ref, old_hashes.get(ref), new_hashes[ref]))
                self.planned.changed += 1
        full = len(self._waiting) - len(self._waiting) % self.size
        self._enqueue(self._waiting[:full])
        del self._waiting[:full]

    def finish(self) -> Planned:
        self._enqueue(self._waiting)
        self._waiting = []
        return self.planned

    def _enqueue(self, waiting: list[tuple[Entry, str, str | None, str]]) -> None:
        items: list[tuple[str, dict[str, Any]]] = []
        for batch in chunked(waiting, self.size):
            transition = [(ref, old, new) for _, ref, old, new in batch]
            key = f"{self.lane.name}:{self.stream}:{digest([self.lane.resend_token, transition])}"
            items.append(
                (key, {"entries": [entry for entry, *_ in batch], "hashes": {ref: new for _, ref, _, new in batch}})
            )
        if items:
            self.lane.store.queue.enqueue_many(self.lane.name, self.stream, items)
            self.planned.batches += len(items)


@dataclass
class Uploaded:
    """What a drain of the queue sent, and what it could not."""

    batches: int = 0
    entries: int = 0
    not_found: list[str] = field(default_factory=list)
    failed: int = 0  # attempts that failed (the item waits for a retry, or is dead)
    dead: int = 0  # items that will not be retried by themselves (refused, or out of attempts)
    errors: list[str] = field(default_factory=list)
    failed_items: set[int] = field(default_factory=set)
    unfinished: int = 0  # batches of this drain that still are not accepted when it ends

    def add(self, other: Uploaded) -> None:
        self.batches += other.batches
        self.entries += other.entries
        self.not_found.extend(other.not_found)
        self.failed += other.failed
        self.dead += other.dead
        self.errors.extend(other.errors)
        self.failed_items |= other.failed_items


class UploadsFailed(Exception):
    """Batches of a run were not accepted: the run failed, though what was accepted stays accepted."""


def _record_channel_links(lane: Lane, refs: list[str]) -> None:
    """The channel accepted these entries: it knows the items under the ids the entries named."""
    hub_keys = lane.store.links.resolve(lane.name, "offers", lane.source_system, refs)
    lane.store.links.attach_many(lane.name, "offers", lane.target_system, [(key, ref) for ref, key in hub_keys.items()])


async def _send_one(lane: Lane, stream: str, sink: BatchSink, worker: str, result: Uploaded) -> bool:
    """Claim one due batch and send it; False when none is due."""
    items = lane.store.queue.claim(integration=lane.name, kind=stream, limit=1, worker=worker)
    if not items:
        return False
    item = items[0]
    entries: list[Entry] = item.payload["entries"]
    if stream == INVENTORIES and isinstance(sink, StockEchoes):  # its stock webhook will post these back
        record_sent(lane.store, lane.name, lane.target_system, sink, entries)
    try:
        answer = await sink.send(entries)
    except ConnectorError as exc:
        after = lane.store.queue.fail(item.id, str(exc), retryable=exc.retryable)
        result.failed += 1
        result.dead += after.status == QueueStatus.DEAD
        result.errors.append(str(exc))
        result.failed_items.add(item.id)
        return True
    hashes: dict[str, str] = item.payload["hashes"]
    accepted = {ref: h for ref, h in hashes.items() if ref not in answer.not_found}
    refused = {ref: f"{REFUSED}{item.id}" for ref in hashes if ref in answer.not_found}
    # snapshot first, then complete: a crash in between re-sends absolute values (harmless)
    lane.store.snapshots.save(lane.name, stream, {**accepted, **refused})
    _record_channel_links(lane, list(accepted))
    lane.store.queue.complete(item.id, {"processed": answer.processed, "not_found": sorted(refused)})
    result.batches += 1
    result.entries += len(entries)
    result.not_found.extend(sorted(refused))
    return True


def _upload_run_name() -> str:
    """``upload-stock`` / ``upload-prices``: what the task run carries, as the Prefect UI lists it."""
    from prefect.runtime import task_run

    stream = str(task_run.parameters.get("stream", ""))
    return f"upload-{CARRIES.get(stream, stream)}"


@task(name="upload-batches", cache_policy=NONE, task_run_name=_upload_run_name)
def upload_batches(lane: Lane, stream: str, max_items: int, worker: str) -> Uploaded:
    """Claim up to ``max_items`` due batches of ``stream`` and send them, a few at a time."""
    result = Uploaded()

    async def send(sink: Any) -> None:
        async def worker_loop(budget: int) -> None:
            for _ in range(budget):
                if not await _send_one(lane, stream, sink, worker, result):
                    return

        lanes = 3  # enough to keep a 10 rps budget busy; the client's budget itself paces them
        share = [max_items // lanes + (1 if i < max_items % lanes else 0) for i in range(lanes)]
        await asyncio.gather(*(worker_loop(n) for n in share if n))

    with_capabilities(lane.integ, (lane.target, SINKS[stream]), step=send)
    return result


def drain(lane: Lane, stream: str, batches_per_task: int, lanes: int = 2) -> Uploaded:
    """Send every due batch of ``stream``: several upload tasks at once until none is left due.

    Batches that failed wait for their backoff in the queue; the result counts those of this drain
    that are still not accepted at its end (``unfinished``), so the run can fail.
    """
    progress = Progress(f"{lane.name}: {stream} uploads")
    total, due = Uploaded(), lane.store.queue.pending_count(lane.name, stream)
    while True:
        futures = [
            upload_batches.submit(lane, stream, batches_per_task, f"{lane.name}-{stream}-{n}") for n in range(lanes)
        ]
        sent = 0
        for future in futures:
            part = future.result()
            sent += part.batches + part.failed
            total.add(part)
        progress.update(total.batches + total.failed, max(due, 1))
        if sent == 0:  # nothing due any more (failed items wait for their backoff)
            break
    for item_id in total.failed_items:
        item = lane.store.queue.get(item_id)
        total.unfinished += item is not None and item.status != QueueStatus.DONE
    return total
