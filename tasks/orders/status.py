"""Order statuses back: the ERP's order states, mapped back to the channel's statuses (docs/orders.md).

A cycle reads the orders whose state changed since the cursor (stream ``statuses``) minus an overlap,
as the stock sync does; each state is mapped back by the inverse of ``mappings.statuses`` (1:1 by
config validation) and set on the channel only when it differs from the order's status the hub knows
— the channel's as staged by the upload, or the one this sync set last — so a state the upload itself
set maps back to the status the channel already has and nothing echoes. A state with no mapping is
``undefined``: journaled, recorded as an unknown status value, kept (kind ``order_state_undefined``)
and applied by the first cycle after someone maps it. Only orders the hub staged from the channel
are considered (the ERP's own orders have no channel order to set).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pandas as pd

from hub.capabilities import WRITE_STATUS, OrderStates, StatusSink
from hub.config import Config
from hub.exchanges import STATUSES
from hub.store import QueueStatus, Store
from tasks.clients import checked_edge
from tasks.exchange import ExchangeRun
from tasks.mapping_check import MappingError
from tasks.orders.stage import ORDERS, plain_rows
from tasks.orders.writes import recorded

STATES = "order_states"  # the ERP's last state per channel order
UNDEFINED = "order_state_undefined"  # channel orders whose ERP state has no mapping yet
UNDEFINED_ITEMS = "order_state_undefined_item"  # their dead queue items (what `queue list` shows)
SENT = "order_status_sent"  # the status this sync last set per channel order


@dataclass(frozen=True)
class StatusRun(ExchangeRun):
    """The status sync of one integration: ERP ``source`` (states) → channel ``target`` (statuses)."""


def plan_status_run(config: Config, name: str, store: Store) -> StatusRun:
    """Check that ``name`` has a statuses edge both of whose sides can do it.

    Raises:
        ConfigError: no statuses edge, or a side lacks the capability.
    """
    integ, source, target = checked_edge(
        config, name, STATUSES, OrderStates, StatusSink, "statuses: {from: erp, to: shop}"
    )
    return StatusRun(name, integ, store, source, target)


@dataclass
class StatusResult:
    read_at: datetime
    since: datetime
    states_read: int = 0
    ours: int = 0  # of them, orders the hub staged from the channel
    sent: int = 0
    unchanged: int = 0
    undefined: dict[str, str] = field(default_factory=dict)  # channel order id -> ERP state with no mapping
    refused: dict[str, str] = field(default_factory=dict)


async def sync_states(
    run: StatusRun, states: OrderStates, sink: StatusSink, *, now: datetime | None = None
) -> StatusResult:
    """One cycle; the cursor moves to the read's start once the statuses were set (refusals journaled)."""
    records = run.store.records
    now = now or datetime.now(UTC)
    overlap = timedelta(seconds=run.integ.options.stock.overlap)
    cursor = run.store.cursors.get(run.name, STATUSES)
    since = min(datetime.fromisoformat(cursor), now) - overlap if cursor else now - overlap
    result = StatusResult(read_at=now, since=since)
    frame = await states.changed_states(since)
    result.states_read = len(frame)
    frame = frame[frame["external_id"].notna()].astype({"external_id": str})
    staged = {
        str(o["order_id"]): o
        for o in plain_rows(records.frame(run.name, ORDERS, keys=sorted(set(frame["external_id"]))))
    }
    frame = frame[frame["external_id"].isin(staged)]
    result.ours = len(frame)
    if not frame.empty:
        records.upsert_frame(
            run.name,
            STATES,
            run.source_system,
            frame[["external_id", "erp_id", "state"]].rename(columns={"external_id": "order_id"}),
            "order_id",
        )
    waiting = plain_rows(records.frame(run.name, UNDEFINED))
    current = {str(r["external_id"]): r["state"] for r in frame.to_dict("records")}
    current.update({str(r["order_id"]): r["state"] for r in waiting if str(r["order_id"]) not in current})
    staged.update(
        {
            str(o["order_id"]): o
            for o in plain_rows(records.frame(run.name, ORDERS, keys=[k for k in current if k not in staged]))
        }
    )
    sent_before = {str(r["order_id"]): r for r in plain_rows(records.frame(run.name, SENT, keys=list(current)))}
    back = {state: status for status, state in (run.integ.mappings.get("statuses") or {}).items() if state}
    wanted: dict[str, str] = {}
    for order_id, state in current.items():
        status = back.get(str(state)) if state is not None else None
        if status is None:
            result.undefined[order_id] = str(state)
            continue
        known = _channel_status(staged.get(order_id), sent_before.get(order_id))
        if known == status:
            result.unchanged += 1
        else:
            wanted[order_id] = status
    _keep_undefined(run, result.undefined, [r for r in waiting if str(r["order_id"]) not in result.undefined])
    if wanted:
        await check_channel_statuses(run, sink)
        # recorded as the hub's writes: the upload skips their echo in the channel's history by them
        result.refused = await recorded(
            run.store, run.name, run.target, WRITE_STATUS, wanted, lambda: sink.set_statuses(wanted)
        )
    done = {oid: status for oid, status in wanted.items() if oid not in result.refused}
    result.sent = len(done)
    if done:
        over = [(staged.get(oid) or {}).get("status") for oid in done]
        records.upsert_frame(
            run.name,
            SENT,
            run.source_system,
            pd.DataFrame({"order_id": list(done), "status": list(done.values()), "over": over}),
            "order_id",
        )
    for oid, why in result.refused.items():
        run.store.journal.write(
            run.name,
            "warning",
            "statuses.refused",
            f"order {oid}: status not set: {why}",
            {"order_id": oid, "status": wanted[oid]},
        )
    run.store.cursors.set(run.name, STATUSES, now.isoformat())
    return result


async def check_channel_statuses(run: StatusRun, sink: StatusSink) -> None:
    """Every channel status of ``mappings.statuses`` is one the channel has (a shop's own statuses
    come from its API), checked before the first write of a cycle that has something to set.

    Raises:
        MappingError: naming each unknown status and the channel's own.
    """
    mapped = [str(status) for status, state in (run.integ.mappings.get("statuses") or {}).items() if state]
    known = {str(s) for s in await sink.statuses()}
    unknown = [status for status in mapped if status not in known]
    if unknown:
        raise MappingError(
            run.name,
            [
                f"mappings.statuses: {', '.join(repr(s) for s in unknown)} "
                f"{'is not a status' if len(unknown) == 1 else 'are not statuses'} of systems.{run.target}; "
                f"its statuses: {', '.join(sorted(known))}"
            ],
        )


def _channel_status(staged: dict[str, object] | None, sent: dict[str, object] | None) -> object:
    """The status the channel has: the one this sync set, unless the channel's own status moved since
    (our edits are not in the history the upload reads, so the staged status lags behind ours)."""
    status = (staged or {}).get("status")
    if sent is not None and sent.get("over") == status:
        return sent.get("status")
    return status


def _keep_undefined(run: StatusRun, undefined: dict[str, str], resolved: list[dict[str, object]]) -> None:
    """Record the orders whose state has no mapping (journal, unknown values, a dead queue item that
    says `undefined` and what to map); forget those now mapped, their items done."""
    records = run.store.records
    if resolved:
        keys = [str(r["order_id"]) for r in resolved]
        _close_items(run, keys, "applied: the state is mapped now")
        records.delete(run.name, UNDEFINED, keys=keys)
    if not undefined:
        return
    new = records.changed(run.name, UNDEFINED, _undefined_frame(undefined), "order_id")
    records.upsert_frame(run.name, UNDEFINED, run.source_system, _undefined_frame(undefined), "order_id")
    run.store.mappings.mark_unknown(run.name, STATUSES, set(undefined.values()), met_in="order-status-sync")
    _close_items(run, new, "superseded: the order's state moved")
    items = []
    for oid in new:
        message = (
            f"order {oid}: status `undefined`: the ERP state `{undefined[oid]}` has no mapping — add it to "
            "mappings.statuses; it is applied as soon as it is mapped"
        )
        run.store.journal.write(
            run.name, "warning", "statuses.undefined", message, {"order_id": oid, "state": undefined[oid]}
        )
        item = run.store.queue.enqueue(
            run.name,
            STATUSES,
            f"{run.name}:{STATUSES}:{oid}:undefined:{undefined[oid]}",
            {"order_id": oid, "state": undefined[oid], "status": "undefined"},
        )
        if item.status == QueueStatus.PENDING:
            run.store.queue.fail(item.id, message, retryable=False)
        items.append({"order_id": oid, "item_id": item.id})
    if items:
        records.upsert_frame(run.name, UNDEFINED_ITEMS, run.source_system, pd.DataFrame(items), "order_id")


def _close_items(run: StatusRun, order_ids: list[str], why: str) -> None:
    """Mark the `undefined` queue items of these orders done (the state got a mapping, or moved)."""
    if not order_ids:
        return
    for row in plain_rows(run.store.records.frame(run.name, UNDEFINED_ITEMS, keys=order_ids)):
        run.store.queue.complete(int(str(row["item_id"])), {"result": why})
    run.store.records.delete(run.name, UNDEFINED_ITEMS, keys=order_ids)


def _undefined_frame(undefined: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({"order_id": list(undefined), "state": list(undefined.values())})
