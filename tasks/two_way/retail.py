"""Retail sales of the ERP's point of sale on the channel's orders (docs/two_way.md, "Retail sales").

A sale made from an order the hub uploaded changes that channel order's lines by the four options of
the seed: ``retail_increase`` (an item sold in a larger quantity), ``retail_decrease`` (a smaller
one), ``retail_add`` (an item the order lacks), ``retail_remove`` (an item not sold). A sale made
without an order creates one in the channel shop ``mappings.retail_shops`` names for the sale's legal
entity (``retail_orders``); its customer is the channel's when the hub linked the counterparty, else
the counterparty's card. A sale whose legal entity is not mapped waits (journaled once) and is made
by the first cycle after it is mapped.

Each sale is applied once: what was done is recorded by its ERP id (:data:`~tasks.two_way.run.SALES_DONE`),
so a webhook delivered twice, or one for a sale the hub already has, changes nothing; an order for a
sale carries the hub key, so a retry after a lost answer finds the order made before. Orders made
here are the ERP's already: the order upload leaves them alone (:data:`ERP_BORN`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import pandas as pd

from hub.capabilities.two_way import (
    ContentChange,
    CustomerCards,
    Line,
    OrderContentSink,
    RetailSale,
    RetailSales,
    SaleOrder,
)
from tasks.orders.stage import plain_rows
from tasks.two_way.names import ERP_BORN
from tasks.two_way.run import SALES_DONE, SALES_WAITING, TwoWayRun

ORDERS_KIND = "orders"
CUSTOMERS_KIND = "customers"


@dataclass
class RetailResult:
    """What one cycle did with retail sales."""

    read: int = 0
    already: int = 0  # applied before (a repeated webhook)
    orders_changed: int = 0
    orders_created: int = 0
    unchanged: int = 0  # applied, nothing to change by the options
    waiting: int = 0  # legal entity not mapped to a shop yet
    refused: dict[str, str] = field(default_factory=dict)  # sale id -> why


def lines_after_sale(
    current: Sequence[Line], sold: Sequence[Line], *, increase: bool, decrease: bool, add: bool, remove: bool
) -> list[Line]:
    """An order's lines once a sale made from it is applied by the four options."""
    by_offer = {line.offer_id: line for line in sold}
    out: list[Line] = []
    for line in current:
        got = by_offer.pop(line.offer_id, None)
        if got is None:
            if not remove:
                out.append(line)
            continue
        more, less = got.quantity > line.quantity, got.quantity < line.quantity
        quantity = got.quantity if (more and increase) or (less and decrease) else line.quantity
        out.append(Line(line.offer_id, quantity, line.price))
    if add:
        out += list(by_offer.values())
    return sorted(out, key=lambda line: line.offer_id)


def _channel_ids(run: TwoWayRun, kind: str, erp_ids: Sequence[str]) -> dict[str, str]:
    """ERP id -> the linked channel id, for these."""
    keys = run.store.links.resolve(run.name, kind, run.target_system, erp_ids)
    channel = run.store.links.external_ids(run.name, kind, run.source_system, list(keys.values()))
    return {eid: channel[key] for eid, key in keys.items() if key in channel}


def _done(run: TwoWayRun, rows: Sequence[Mapping[str, str]]) -> None:
    if rows:
        run.store.records.upsert_frame(run.name, SALES_DONE, run.target_system, pd.DataFrame(list(rows)), "sale_id")
        run.store.records.delete(run.name, SALES_WAITING, keys=[r["sale_id"] for r in rows])


async def apply_retail_sales(
    run: TwoWayRun,
    erp: RetailSales,
    erp_cards: CustomerCards,
    channel: OrderContentSink,
    sale_ids: Sequence[str],
) -> RetailResult:
    """Apply these sales (the webhooks named them) and those waiting for a shop mapping."""
    result = RetailResult()
    waiting = [str(r["sale_id"]) for r in plain_rows(run.store.records.frame(run.name, SALES_WAITING))]
    wanted = list(dict.fromkeys([*sale_ids, *waiting]))
    if not wanted:
        return result
    done = {str(r["sale_id"]) for r in plain_rows(run.store.records.frame(run.name, SALES_DONE, keys=wanted))}
    result.already = len([s for s in sale_ids if s in done])
    sales = await erp.retail_sales([s for s in wanted if s not in done])
    result.read = len(sales)
    with_order = {sid: s for sid, s in sales.items() if s.erp_order_id}
    await _from_orders(run, channel, with_order, result)
    alone = {sid: s for sid, s in sales.items() if not s.erp_order_id}
    if alone and run.integ.options.two_way.retail_orders:
        await _new_orders(run, erp_cards, channel, alone, result)
    elif alone:
        _done(run, [{"sale_id": sid, "what": "no order: retail_orders is off"} for sid in alone])
    for sid, why in result.refused.items():
        run.store.journal.write(
            run.name, "warning", "two-way.retail-refused", f"retail sale {sid} not applied: {why}", {"sale_id": sid}
        )
    return result


async def _from_orders(
    run: TwoWayRun, channel: OrderContentSink, sales: Mapping[str, RetailSale], result: RetailResult
) -> None:
    if not sales:
        return
    options = run.integ.options.two_way
    orders = _channel_ids(run, ORDERS_KIND, [str(s.erp_order_id) for s in sales.values()])
    current = await channel.order_contents(list(set(orders.values())))
    changes: dict[str, ContentChange] = {}
    of_order: dict[str, str] = {}
    finished: list[dict[str, str]] = []
    for sid, sale in sales.items():
        oid = orders.get(str(sale.erp_order_id))
        if oid is None or oid not in current:
            finished.append({"sale_id": sid, "what": "its order is not the channel's: nothing to change"})
            continue
        before = sorted(current[oid].lines, key=lambda line: line.offer_id)
        after = lines_after_sale(
            before,
            sale.lines,
            increase=options.retail_increase,
            decrease=options.retail_decrease,
            add=options.retail_add,
            remove=options.retail_remove,
        )
        if after == before:
            result.unchanged += 1
            finished.append({"sale_id": sid, "what": f"order {oid}: nothing to change"})
            continue
        changes[oid] = ContentChange(lines=after)  # two sales of one order in a cycle: the last one counts
        current[oid] = replace(current[oid], lines=after)
        of_order[sid] = oid
    refused = await channel.set_order_contents(changes) if changes else {}
    for sid, oid in of_order.items():
        if oid in refused:
            result.refused[sid] = f"order {oid}: {refused[oid]}"
        else:
            finished.append({"sale_id": sid, "what": f"order {oid}: lines changed"})
    result.orders_changed = len(changes) - len(refused)
    _done(run, finished)


async def _new_orders(
    run: TwoWayRun,
    erp_cards: CustomerCards,
    channel: OrderContentSink,
    sales: Mapping[str, RetailSale],
    result: RetailResult,
) -> None:
    shops = run.integ.mappings.get("retail_shops") or {}
    unmapped = {sid: s for sid, s in sales.items() if not shops.get(s.organization)}
    if unmapped:
        frame = pd.DataFrame({"sale_id": list(unmapped), "organization": [s.organization for s in unmapped.values()]})
        new = run.store.records.changed(run.name, SALES_WAITING, frame, "sale_id")
        run.store.records.upsert_frame(run.name, SALES_WAITING, run.target_system, frame, "sale_id")
        run.store.mappings.mark_unknown(run.name, "retail_shops", {s.organization for s in unmapped.values()})
        for sid in new:
            run.store.journal.write(
                run.name,
                "warning",
                "two-way.retail-unmapped",
                f"retail sale {sid}: its legal entity {unmapped[sid].organization!r} has no shop in "
                "mappings.retail_shops; its order is made once it is mapped",
                {"sale_id": sid},
            )
        result.waiting = len(unmapped)
    mapped = {sid: s for sid, s in sales.items() if sid not in unmapped}
    if not mapped:
        return
    agents = [str(s.customer_id) for s in mapped.values() if s.customer_id]
    linked = _channel_ids(run, CUSTOMERS_KIND, agents)
    cards = await erp_cards.customer_cards([a for a in agents if a not in linked])
    orders = [
        SaleOrder(
            key=f"{run.name}-sale-{sid}",
            site=str(shops[s.organization]),
            number=s.number,
            lines=s.lines,
            customer=cards.get(str(s.customer_id), {}),
            customer_id=linked.get(str(s.customer_id)),
            status=run.integ.options.two_way.retail_order_status,
        )
        for sid, s in mapped.items()
    ]
    made, refused = await channel.create_sale_orders(orders)
    sale_of = {o.key: sid for o, sid in zip(orders, mapped, strict=True)}
    result.refused.update({sale_of[k]: why for k, why in refused.items()})
    if made:
        born = pd.DataFrame({"order_id": list(made.values()), "sale_id": [sale_of[k] for k in made]})
        run.store.records.upsert_frame(run.name, ERP_BORN, run.target_system, born, "order_id")
    result.orders_created = len(made)
    _done(run, [{"sale_id": sale_of[k], "what": f"order {oid} created"} for k, oid in made.items()])
