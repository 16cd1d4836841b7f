"""One documents cycle: the orders whose documents may be due, decided and sent in bulk (docs/documents.md).

An order is looked at when what its documents depend on moved since it was last settled — its
statuses (current and passed), its payments, its ERP order — compared by digest with the snapshot
(stream ``order_documents``), so a quiet cycle reads nothing from the ERP. The orders looked at are
read with their documents (:meth:`OrderDocuments.order_papers`), then sent in two rounds: shipments
and payments, then the returns of orders newly cancelled (their shipments include those just made).
An order is settled (snapshot, statuses seen) only when every document it was due is made: one the
ERP refused is journaled and tried again by the next cycle; the ERP's idempotency key makes the
retry safe whatever the first try did.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd
from prefect import task
from prefect.cache_policies import NONE

from hub.capabilities import (
    SHIPMENT,
    CostPriceSink,
    DocumentDraft,
    ErpDocument,
    OrderDocuments,
    OrderFieldSink,
    OrderFieldSource,
    PaymentSink,
)
from hub.exchanges import ORDERS
from hub.options import DocumentOptions
from tasks.clients import open_capability
from tasks.documents.due import Made, OrderFacts, decide, returns
from tasks.documents.fields_back import fields_back, fields_back_due
from tasks.documents.moves import decide_moves, order_stores
from tasks.documents.payments_back import payments_back
from tasks.documents.run import CHECKED, DOCUMENTS, DocumentRun
from tasks.exchange import Outcome
from tasks.orders.stage import DELETED, PASSED, PAYMENTS, plain_rows
from tasks.publish import digest

#: a shipment's cost prices are not on the channel order yet / are
COST_PENDING, COST_SET = "cost prices pending", "cost prices set"


@dataclass
class DocumentsResult:
    """What one cycle did."""

    looked_at: int = 0
    made: dict[str, int] = field(default_factory=dict)  # kind -> documents created
    updated: int = 0  # payment documents updated
    adopted: int = 0  # found made already (a lost answer), recorded
    cost_prices_set: int = 0  # orders whose lines got cost prices
    settled: int = 0
    refused: dict[str, str] = field(default_factory=dict)  # document key -> why
    notes: list[str] = field(default_factory=list)
    payments_back: int = 0  # channel payments set from payment documents changed in the ERP
    deleted: int = 0  # ERP orders deleted with their documents (their channel order was deleted)
    kept_deleted: int = 0  # ERP orders kept though their channel order was deleted (journaled)
    fields_back: int = 0  # channel orders whose custom fields or manager were set as changed in the ERP


def _facts(run: DocumentRun) -> tuple[list[OrderFacts], dict[str, str]]:
    """Orders with an ERP order whose documents may be due (what they depend on moved since they were
    settled), and the digest of that state per order."""
    records = run.store.records
    passed: dict[str, set[str]] = {}
    for key in records.hashes(run.name, PASSED):
        order_id, _, status = key.partition("|")
        passed.setdefault(order_id, set()).add(status)
    paid: dict[str, list[str]] = {}
    for key, h in records.hashes(run.name, PAYMENTS).items():
        paid.setdefault(key.partition("|")[0], []).append(f"{key}:{h}")
    order_hashes = records.hashes(run.name, ORDERS)
    erp = _erp_orders(run, [o for o in order_hashes if o in passed or o in paid])
    # what the documents depend on: the statuses seen, the payments, the ERP order (not the order's
    # other fields: a comment edited in the channel costs no read of the ERP)
    states = {
        oid: digest([sorted(passed.get(oid, ())), sorted(paid.get(oid, [])), erp_id]) for oid, erp_id in erp.items()
    }
    settled = run.store.snapshots.hashes(run.name, DOCUMENTS, list(states))
    due = [oid for oid, h in states.items() if settled.get(oid) != h]
    if not due:
        return [], states
    orders = {str(o["order_id"]): o for o in plain_rows(records.frame(run.name, ORDERS, keys=due))}
    checked = {str(r["order_id"]): r for r in plain_rows(records.frame(run.name, CHECKED, keys=due))}
    payments: dict[str, list[dict[str, Any]]] = {}
    for p in plain_rows(records.frame(run.name, PAYMENTS, parents=due)):
        payments.setdefault(str(p["order_id"]), []).append(p)
    facts = [
        OrderFacts(
            oid,
            erp[oid],
            orders[oid].get("number"),
            orders[oid].get("status"),
            frozenset(passed.get(oid, set())),
            frozenset(str(checked[oid]["statuses"]).split("\n")) if oid in checked else frozenset(),
            payments.get(oid, []),
        )
        for oid in due
        if oid in orders
    ]
    return facts, states


def _erp_orders(run: DocumentRun, order_ids: list[str]) -> dict[str, str]:
    """Channel order id -> ERP order id, for the orders the upload linked."""
    keys = run.store.links.resolve(run.name, ORDERS, run.source_system, order_ids)
    erp = run.store.links.external_ids(run.name, ORDERS, run.target_system, list(keys.values()))
    return {oid: erp[key] for oid, key in keys.items() if key in erp}


def _made(run: DocumentRun, order_ids: Sequence[str]) -> dict[str, Made]:
    """The documents the hub made for these orders, by key."""
    rows = plain_rows(run.store.records.frame(run.name, DOCUMENTS, parents=order_ids))
    return {
        str(r["key"]): Made(str(r["key"]), str(r["order_id"]), str(r["kind"]), str(r["erp_id"]), str(r["content"]))
        for r in rows
    }


def _record(run: DocumentRun, made: Sequence[Made]) -> None:
    if made:
        frame = pd.DataFrame([vars(m) for m in made])
        run.store.records.upsert_frame(run.name, DOCUMENTS, run.target_system, frame, ["order_id", "key"])


class _Round:
    """One bulk send: drafts, whose order each is, what each is made of."""

    def __init__(self) -> None:
        self.drafts: list[DocumentDraft] = []
        self.facts: dict[str, OrderFacts] = {}
        self.contents: dict[str, str] = {}

    def add(self, facts: OrderFacts, drafts: Sequence[DocumentDraft], contents: dict[str, str]) -> None:
        self.drafts.extend(drafts)
        self.facts.update({d.key: facts for d in drafts})
        self.contents.update(contents)


async def _send(
    run: DocumentRun, erp: OrderDocuments, sent: _Round, result: DocumentsResult, failed: set[str]
) -> dict[str, list[ErpDocument]]:
    """Send one round; record what was made; the shipments made, by channel order id."""
    shipments: dict[str, list[ErpDocument]] = {}
    if not sent.drafts:
        return shipments
    made: list[Made] = []
    for draft, outcome in zip(sent.drafts, await erp.upsert_documents(sent.drafts), strict=True):
        facts = sent.facts[draft.key]
        if outcome.erp_id:
            content = sent.contents.get(
                draft.key, COST_PENDING if draft.kind == SHIPMENT and run.cost_prices_back else ""
            )
            made.append(Made(draft.key, facts.order_id, draft.kind, outcome.erp_id, content))
            if draft.erp_id:
                result.updated += 1
            else:
                result.made[draft.kind] = result.made.get(draft.kind, 0) + 1
            if draft.kind == SHIPMENT:
                shipments.setdefault(facts.order_id, []).append(ErpDocument(SHIPMENT, outcome.erp_id, draft.key))
        elif outcome.note:
            result.notes.append(f"order {facts.order_id}: {outcome.note}")
        else:
            failed.add(facts.order_id)
            result.refused[draft.key] = outcome.error or "refused without a reason"
    _record(run, made)
    return shipments


async def _cost_prices_back(
    run: DocumentRun,
    erp: OrderDocuments,
    channel: CostPriceSink,
    made: dict[str, Made],
    result: DocumentsResult,
    failed: set[str],
) -> None:
    """Cost prices of the shipments made whose cost prices are not on the channel order yet (made in
    this cycle, or in one killed before it got here); an order the channel refused stays unsettled."""
    pending = [m for m in made.values() if m.kind == SHIPMENT and m.content == COST_PENDING]
    if not pending:
        return
    costs = await erp.cost_prices([m.erp_id for m in pending])
    prices = {m.order_id: costs[m.erp_id] for m in pending if costs.get(m.erp_id)}
    refused = await channel.set_cost_prices(prices, overwrite=run.integ.options.documents.cost_prices_overwrite)
    result.cost_prices_set += len(prices) - len(refused)
    for oid, why in refused.items():
        failed.add(oid)
        result.refused[f"{run.name}:{oid}:cost-prices"] = f"cost prices not set on the channel order: {why}"
    _record(run, [replace(m, content=COST_SET) for m in pending if m.order_id not in refused])


def _may_need(facts: OrderFacts, options: DocumentOptions, mappings: Mapping[str, Mapping[str, str | None]]) -> bool:
    """Whether any document could be due (else the order is settled without reading the ERP)."""
    types = mappings.get("payment_documents") or {}
    return (
        bool(set(options.shipment_statuses) & facts.seen)
        or bool(set(options.shipment_cancel_statuses) & (facts.seen - facts.seen_before))
        or any(types.get(str(p.get("type"))) for p in facts.payments)
    )


def _settle(run: DocumentRun, done: Sequence[OrderFacts], states: Mapping[str, str]) -> None:
    """Mark these orders' documents settled: their state snapshot, and the statuses seen."""
    if not done:
        return
    run.store.snapshots.save(run.name, DOCUMENTS, {f.order_id: states[f.order_id] for f in done})
    checked = pd.DataFrame(
        {"order_id": [f.order_id for f in done], "statuses": ["\n".join(sorted(f.seen)) for f in done]}
    )
    run.store.records.upsert_frame(run.name, CHECKED, run.source_system, checked, "order_id")


async def _deleted_in_channel(run: DocumentRun, erp: OrderDocuments, result: DocumentsResult) -> None:
    """Orders deleted in the channel: deleted in the ERP with their documents with ``force_delete``,
    else journaled (once each); the ERP's refusals are journaled and tried again next cycle."""
    records = run.store.records
    gone = [str(r["order_id"]) for r in plain_rows(records.frame(run.name, DELETED))]
    erp_ids = _erp_orders(run, gone)
    handled = [oid for oid in gone if oid not in erp_ids]  # never in the ERP: nothing to do
    if erp_ids and run.integ.options.documents.force_delete:
        refused = await erp.delete_orders(list(erp_ids.values()))
        for oid, erp_id in erp_ids.items():
            if erp_id in refused:
                result.refused[f"{run.name}:{oid}:delete"] = f"ERP order {erp_id} not deleted: {refused[erp_id]}"
                continue
            handled.append(oid)
            result.deleted += 1
            run.store.journal.write(
                run.name,
                "info",
                "documents.deleted",
                f"order {oid} was deleted in the channel: its ERP order {erp_id} and its documents are deleted",
                {"order_id": oid, "erp_id": erp_id},
            )
    else:
        for oid, erp_id in erp_ids.items():
            handled.append(oid)
            result.kept_deleted += 1
            run.store.journal.write(
                run.name,
                "warning",
                "documents.deleted-kept",
                f"order {oid} was deleted in the channel; its ERP order {erp_id} and its documents stay "
                "(options.documents.force_delete deletes them)",
                {"order_id": oid, "erp_id": erp_id},
            )
    records.delete(run.name, DELETED, keys=handled)  # dealt with (a re-read after a crash repeats it harmlessly)


async def make_documents(run: DocumentRun, erp: OrderDocuments, channel: CostPriceSink | None) -> DocumentsResult:
    """One cycle: orders deleted in the channel; decide, send shipments and payments, then returns;
    cost prices back; settle."""
    result = DocumentsResult()
    await _deleted_in_channel(run, erp, result)
    facts, states = _facts(run)
    result.looked_at = len(facts)
    if not facts:
        return result
    options = run.integ.options.documents
    quiet = [f for f in facts if not _may_need(f, options, run.integ.mappings)]
    _settle(run, quiet, states)  # nothing can be due: settled without asking the ERP
    facts = [f for f in facts if f not in quiet]
    if not facts:
        result.settled = len(quiet)
        return result
    papers = await erp.order_papers([f.erp_order_id for f in facts])
    made = _made(run, [f.order_id for f in facts])
    failed: set[str] = set()
    first, cancelled = _Round(), []
    stores = order_stores(run, [f.order_id for f in facts]) if options.moves else {}
    for f in facts:
        held = papers.get(f.erp_order_id)
        if held is None:
            failed.add(f.order_id)
            result.notes.append(f"order {f.order_id}: its ERP order {f.erp_order_id} is not in the ERP any more")
            continue
        decision = decide(run.name, f, held, made, options, run.integ.mappings)
        moves = decide_moves(run.name, f, stores.get(f.order_id), held, made, options, run.integ.mappings)
        # the goods reach the shipment store before they leave it: moves go first
        decision.drafts[:0], decision.adopted[:0] = moves.drafts, moves.adopted
        decision.notes += moves.notes
        if run.cost_prices_back:  # a shipment made by a run killed before it recorded it: no cost prices yet
            decision.adopted = [replace(m, content=COST_PENDING) if m.kind == SHIPMENT else m for m in decision.adopted]
        _record(run, decision.adopted)
        result.adopted += len(decision.adopted)
        made.update({m.key: m for m in decision.adopted})
        result.notes += [f"order {f.order_id}: {n}" for n in decision.notes]
        first.add(f, decision.drafts, decision.contents)
        if decision.returns_due:
            cancelled.append((f, held))
    new_shipments = await _send(run, erp, first, result, failed)
    second = _Round()
    for f, held in cancelled:
        if f.order_id in failed:
            continue  # its shipment was refused: its returns wait for it
        drafts, adopted = returns(
            run.name, f, [*held.of_kind(SHIPMENT), *new_shipments.get(f.order_id, [])], held, made
        )
        _record(run, adopted)
        result.adopted += len(adopted)
        second.add(f, drafts, {})
    await _send(run, erp, second, result, failed)
    if channel is not None:
        await _cost_prices_back(run, erp, channel, _made(run, [f.order_id for f in facts]), result, failed)
    done = [f for f in facts if f.order_id not in failed]
    _settle(run, done, states)
    result.settled = len(done) + len(quiet)
    for key, why in result.refused.items():
        run.store.journal.write(
            run.name, "warning", "documents.refused", f"document {key} not made: {why}", {"key": key}
        )
    for note in result.notes:
        run.store.journal.write(run.name, "info", "documents.note", note)
    return result


@task(name="make-documents", cache_policy=NONE)
def make_order_documents(run: DocumentRun) -> DocumentsResult:
    """Make the documents the orders are due; then bring back payment changes made in the ERP."""

    async def go() -> DocumentsResult:
        async with AsyncExitStack() as opened:
            erp = await opened.enter_async_context(open_capability(run.integ, run.target, OrderDocuments))
            channel = (
                await opened.enter_async_context(open_capability(run.integ, run.source, CostPriceSink))
                if run.cost_prices_back
                else None
            )
            result = await make_documents(run, erp, channel)
            if run.payments_back:
                sink = await opened.enter_async_context(open_capability(run.integ, run.source, PaymentSink))
                back = await payments_back(run, erp, sink)
                result.payments_back, result.refused = (
                    back.sent,
                    {
                        **result.refused,
                        **{f"{run.name}:payment:{pid}:back": why for pid, why in back.refused.items()},
                    },
                )
            if fields_back_due(run):
                erp_fields = await opened.enter_async_context(open_capability(run.integ, run.target, OrderFieldSource))
                field_sink = await opened.enter_async_context(open_capability(run.integ, run.source, OrderFieldSink))
                fields = await fields_back(run, erp_fields, field_sink)
                result.fields_back = fields.sent
                result.refused.update({f"{run.name}:{oid}:fields:back": why for oid, why in fields.refused.items()})
            return result

    return asyncio.run(go())


def documents_outcome(result: DocumentsResult, integration: str) -> Outcome:
    """The summary of one documents cycle; documents the ERP refused fail the run (they are journaled,
    and the next cycle tries them again)."""
    rows: list[dict[str, Any]] = [
        {"what": "orders looked at", "count": result.looked_at},
        *({"what": f"documents made: {kind}", "count": n} for kind, n in sorted(result.made.items())),
        {"what": "payment documents updated", "count": result.updated},
        {"what": "documents found made already (recorded)", "count": result.adopted},
        {"what": "orders given cost prices", "count": result.cost_prices_set},
        {"what": "orders settled", "count": result.settled},
        {"what": "channel payments changed as their ERP documents were", "count": result.payments_back},
        {"what": "ERP orders deleted with their documents (deleted in the channel)", "count": result.deleted},
        {"what": "ERP orders kept though deleted in the channel (journaled)", "count": result.kept_deleted},
        {"what": "channel orders given custom fields or a manager changed in the ERP", "count": result.fields_back},
        {"what": "documents the ERP refused (journaled, tried again)", "count": len(result.refused)},
    ]
    made = sum(result.made.values())
    return Outcome(
        rows=rows,
        line=f"documents: {result.looked_at} orders looked at, {made} documents made, {result.updated} updated",
        level="error" if result.refused else "info",
        summary={
            "looked_at": result.looked_at,
            "made": dict(result.made),
            "updated": result.updated,
            "adopted": result.adopted,
            "cost_prices_set": result.cost_prices_set,
            "settled": result.settled,
            "payments_back": result.payments_back,
            "deleted": result.deleted,
            "kept_deleted": result.kept_deleted,
            "fields_back": result.fields_back,
            "refused": dict(result.refused),
            "notes": list(result.notes),
        },
        report=bool(
            result.looked_at
            or result.payments_back
            or result.deleted
            or result.kept_deleted
            or result.fields_back
            or result.refused
        ),
        failure=f"documents of {integration}: {len(result.refused)} not made: {list(result.refused.values())[:3]}"
        if result.refused
        else None,
    )
