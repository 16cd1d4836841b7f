"""Order upload, part two: every reference of an order resolved from the hub and the config, or the
order parked with a reason a manager can act on (docs/orders.md, "Plan").

Lines resolve through the hub's offers (a channel line's offer ref is the ERP id our feed gave it),
the shipment store through ``mappings.order_stores`` (default: the inverse of ``stores`` where one
ERP store feeds the warehouse), the state through ``mappings.statuses``, the delivery service through
``mappings.delivery_types`` / ``options.orders.default_delivery``, the organization through
``options.orders.organization``. A resolved order is queued (kind ``orders``, one item per order and
content); an unresolvable one becomes a dead queue item whose error is the reason. Parked orders are
planned again when the *stamp* moved — the order mappings and options, or the hub's catalog (a full
import staged other offers) — or when someone retried the item; never otherwise, so never in a loop.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from hub.capabilities import KeyedOffers, OrderReference, OrderSource
from hub.store import QueueStatus
from tasks.clients import capability_for_planning
from tasks.orders.fields import erp_fields
from tasks.orders.send import SENT_LINES, linked_ids
from tasks.orders.stage import ORDERS, OrderContents, OrderRun, contents, plain_rows
from tasks.publish import digest
from tasks.two_way.names import ERP_BORN

PARKED = "order_parked"
ORDER_MAPPINGS = ("statuses", "order_stores", "stores", "delivery_types")


@dataclass
class Planned:
    """What planning did with the orders it was given."""

    queued: int = 0
    parked: int = 0
    unchanged: int = 0
    replanned: int = 0  # parked orders planned again (stamp moved or retried)
    reasons: dict[str, str] = field(default_factory=dict)  # parked order -> why
    unmapped_delivery: set[str] = field(default_factory=set)  # delivery types sent as the default


@dataclass(frozen=True)
class Resolved:
    draft: dict[str, Any] | None
    reasons: list[str]


class OrderPlanner:
    """Plans orders of one run; ``reference`` (the ERP's books) is set by the caller before :meth:`plan`
    when :meth:`candidates` found something to plan."""

    def __init__(self, run: OrderRun, reference: OrderReference | None = None) -> None:
        self.run, self.reference = run, reference
        self.options = run.integ.options.orders
        self.planned = Planned()
        self._stamp: str | None = None
        #: orders parked because the books lacked a name (state, store, organization, service): with
        #: books kept from an earlier cycle, the caller reads them afresh and plans these again
        self.books_missed: set[str] = set()
        self._missed = False
        self._in_erp: set[str] = set()  # orders the ERP has (cancelled lines of others go at zero price)
        #: a channel naming offers by the merchant's key: that key → the ERP offer id (looked up as needed)
        self._by_key: dict[str, str] | None = None
        self._asked: set[str] = set()  # keys looked up already (found or not)
        with capability_for_planning(run.integ, run.source, OrderSource) as source:
            self.offer_key = source.offer_key if isinstance(source, KeyedOffers) else None

    def stamp(self) -> str:
        """What a parked order's resolution depends on besides its own contents."""
        if self._stamp is None:
            mappings = {k: self.run.integ.mappings.get(k) or {} for k in ORDER_MAPPINGS}
            for extra in ("payment_types", "custom_fields", "managers"):  # only where set: other stamps stay
                if self.run.integ.mappings.get(extra):
                    mappings[extra] = self.run.integ.mappings[extra]
            offers = digest(sorted(self.run.store.records.hashes(self.run.name, "offers").values()))
            self._stamp = digest([mappings, self.options.model_dump(mode="json"), offers])
        return self._stamp

    def candidates(self, order_ids: Sequence[str]) -> list[str]:
        """The orders whose contents differ from what the ERP last accepted."""
        staged = contents(self.run, self.not_erp_born(order_ids))
        accepted = self.run.store.snapshots.hashes(self.run.name, ORDERS, list(staged))
        return [oid for oid, c in staged.items() if accepted.get(oid) != c.hash]

    def not_erp_born(self, order_ids: Sequence[str]) -> list[str]:
        """These orders but those the hub made in the channel for the ERP's retail sales: the ERP has them."""
        born = set(self.run.store.records.frame(self.run.name, ERP_BORN, keys=list(order_ids)).get("order_id", []))
        return [oid for oid in order_ids if oid not in born]

    def parked_due(self) -> list[str]:
        """Parked orders to plan again: the stamp moved, or their item was retried by hand."""
        rows = plain_rows(self.run.store.records.frame(self.run.name, PARKED))
        due = []
        for row in rows:
            item = self.run.store.queue.get(int(row["item_id"]))
            if row["stamp"] != self.stamp() or item is None or item.status != QueueStatus.DEAD:
                due.append(str(row["order_id"]))
        return due

    def plan(self, order_ids: Sequence[str], *, replanning: bool = False) -> Planned:
        if self.reference is None:
            raise RuntimeError("OrderPlanner.plan needs the ERP's order reference")
        staged = contents(self.run, self.not_erp_born(order_ids))
        accepted = self.run.store.snapshots.hashes(self.run.name, ORDERS, list(staged))
        self._in_erp = (
            set(linked_ids(self.run, ORDERS, list(staged))) if self.options.cancelled_line_statuses else set()
        )
        kept = self._kept_lines(list(staged)) if self.options.keep_product_info else {}
        wanted = {str(line["offer_id"]) for c in staged.values() for line in c.lines if line.get("offer_id")}
        self.look_up_keys(sorted(wanted))  # one lookup for every line of these orders
        wanted = {self.erp_offer(ref) or ref for ref in wanted}
        offers = self.run.store.records.frame(self.run.name, "offers", keys=sorted(wanted))
        kinds = dict(zip(offers["offer_id"].astype(str), offers["kind"].astype(str), strict=True))
        parked = {
            str(r["order_id"]): r
            for r in plain_rows(self.run.store.records.frame(self.run.name, PARKED, keys=list(staged)))
        }
        for oid, c in staged.items():
            h = c.hash
            if accepted.get(oid) == h:
                self.planned.unchanged += 1
                self._unpark(parked.get(oid), None)
                continue
            self.planned.replanned += replanning
            self._missed = False
            resolved = self.resolve(c, kinds, kept.get(oid))
            if resolved.draft is None:
                if self._missed:
                    self.books_missed.add(oid)
                self._park(c, h, resolved.reasons, parked.get(oid))
                continue
            payload = {"order_id": oid, "hash": h, "customer_id": c.order.get("customer_id"), "draft": resolved.draft}
            key = f"{self.run.name}:{ORDERS}:{oid}:{h[:16]}:{digest(resolved.draft)[:16]}"
            item = self.run.store.queue.enqueue(self.run.name, ORDERS, key, payload)
            if item.status == QueueStatus.DONE:  # done as superseded, and the contents came back to it
                item = self.run.store.queue.enqueue(self.run.name, ORDERS, f"{key}:{item.id}", payload)
            self.planned.queued += item.status == QueueStatus.PENDING
            self._unpark(parked.get(oid), item.id)
        return self.planned

    # -- resolving -------------------------------------------------------------------------------

    def erp_offer(self, ref: str) -> str | None:
        """The ERP offer a channel line names: the ref itself, or by the channel's key (an SKU)."""
        if self.offer_key is None:
            return ref
        self.look_up_keys([ref])
        assert self._by_key is not None
        return self._by_key.get(ref)

    def look_up_keys(self, refs: Sequence[str]) -> None:
        """Find the ERP offers of these keys in the hub's catalog copy (only those not looked up yet:
        the database reads the key field itself, so a few SKUs cost no read of the whole catalog)."""
        if self.offer_key is None:
            return
        known = self._by_key if self._by_key is not None else {}
        asked = self._asked
        missing = [r for r in dict.fromkeys(refs) if r not in asked]
        if missing:
            known.update(self.run.store.records.keys_by_field(self.run.name, "offers", self.offer_key, missing))
            asked.update(missing)
        self._by_key = known

    def _kept_lines(self, order_ids: list[str]) -> dict[str, tuple[list[dict[str, Any]], dict[str, str]]]:
        """The lines the ERP last accepted for those of these orders it has (``keep_product_info``)."""
        in_erp = linked_ids(self.run, ORDERS, order_ids)
        if not in_erp:
            return {}
        rows = plain_rows(self.run.store.records.frame(self.run.name, SENT_LINES, keys=list(in_erp)))
        return {str(r["order_id"]): (json.loads(r["lines"]), json.loads(r["line_kinds"])) for r in rows}

    def resolve(
        self,
        c: OrderContents,
        kinds: dict[str, str],
        kept: tuple[list[dict[str, Any]], dict[str, str]] | None = None,
    ) -> Resolved:
        """The draft of an order (JSON), or every reason it cannot be uploaded. ``kept``: the lines the
        ERP holds for it, kept as they are (``keep_product_info``): the channel's lines are not read."""
        ref = self.reference
        assert ref is not None
        reasons: list[str] = []
        lines: list[dict[str, Any]] = [] if kept is None else [dict(line) for line in kept[0]]
        line_kinds: dict[str, str] = {} if kept is None else dict(kept[1])
        for line in c.lines if kept is None else []:
            offer, label = line.get("offer_id"), f"line {line.get('line_no')} ({line.get('name') or 'no name'})"
            if offer and self.offer_key is not None:  # named by the merchant's key: the ERP's offer of it
                erp = self.erp_offer(str(offer))
                if erp is None and self.options.create_items:  # a one-time product: made in the ERP when sent
                    lines.append({**line, "offer_id": None, "new_item": str(offer)})
                    continue
                line = {**line, "offer_id": erp or f"{self.offer_key}:{offer}"}
                offer = line["offer_id"]
            if not offer:
                reasons.append(f"{label}: not a catalog offer (a free-form item) — choose the offer in the channel")
            elif str(offer) not in kinds:
                reasons.append(
                    f"{label}: offer {offer} is not in the catalog — publish the catalog (run the full "
                    "import), then the order is planned again"
                )
            else:
                lines.append(line)
                line_kinds[str(offer)] = kinds[str(offer)]
        state_id = self._state(c.order.get("status"), reasons)
        store_id = self._store(c.order.get("store_id"), reasons)
        organization_id = self._organization(reasons)
        if kept is None:  # a kept order's delivery line is among its kept lines
            self._delivery(c.order, lines, line_kinds, reasons)
        payments = self._payments(c, reasons)
        self._customer(c, reasons)
        if reasons:
            return Resolved(None, reasons)
        order = {**c.order, "external_id": c.order_id}  # the ERP's externalCode: the channel's order id
        by_status = set(self.options.reserve_line_statuses)
        if kept is None:  # (kept lines stay as the ERP holds them; the order's reserve follows below)
            if self.options.reserve and by_status:  # only lines in one of these statuses hold goods back
                lines = [{**line, "reserve": str(line.get("status")) in by_status} for line in lines]
            lines = self._cancelled(c.order_id, lines)
        if self.options.number == "erp":
            order["number"] = None
        return Resolved(
            {
                "key": f"{self.run.name}:{c.order_id}",
                "order": order,
                "lines": lines,
                "line_kinds": line_kinds,
                "organization_id": organization_id,
                "store_id": store_id,
                "state_id": state_id,
                # an order in an archive status is closed at the ERP: it holds nothing back any more
                "reserve": bool(
                    self.options.reserve
                    and store_id
                    and str(c.order.get("status")) not in self.options.archive_statuses
                ),
                **({"payments": payments} if payments else {}),
                # custom fields and the manager: only where set, so other drafts (and their keys) stay as they were
                **({"fields": fields} if (fields := erp_fields(c.order, self.run.integ.mappings)) else {}),
                **(
                    {"manager_id": str(c.order["manager_id"])}
                    if c.order.get("manager_id") and "managers" in self.run.integ.mappings
                    else {}
                ),
            },
            [],
        )

    def _cancelled(self, order_id: str, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Cancelled lines (``cancelled_line_statuses``): kept without reserve — at zero price on an
        order the ERP does not have yet — or left out (``keep_cancelled_lines: false``)."""
        cancelled = set(self.options.cancelled_line_statuses)
        if not cancelled:
            return lines
        new = order_id not in self._in_erp
        kept = []
        for line in lines:
            if line.get("status") is None or str(line["status"]) not in cancelled:
                kept.append(line)
            elif self.options.keep_cancelled_lines:
                kept.append({**line, "reserve": False, **({"price": 0, "discount": None} if new else {})})
        return kept

    def _state(self, status: Any, reasons: list[str]) -> str | None:
        statuses = self.run.integ.mappings.get("statuses") or {}
        if not statuses:
            return None  # no status mapping: the ERP's default state
        name = statuses.get(str(status)) if status is not None else None
        if name is None:
            reasons.append(f"status `{status}` is not mapped — add it to mappings.statuses")
            if status is not None:  # listed as undefined (the console maps it; the order is planned again)
                self.run.store.mappings.mark_unknown(self.run.name, "statuses", [str(status)], met_in="order-upload")
            return None
        assert self.reference is not None
        if name not in self.reference.states:
            self._missed = True
            reasons.append(
                f"the ERP has no order state `{name}` (mappings.statuses.{status}) — fix the name (case matters)"
            )
        return self.reference.states.get(name)

    def _store(self, code: Any, reasons: list[str]) -> str | None:
        if code is None:
            return None
        code, ref = str(code), self.reference
        assert ref is not None
        explicit = self.run.integ.mappings.get("order_stores") or {}
        if code in explicit:
            name = explicit[code]
            if name is None:
                return None
        else:
            feeding = [erp for erp, channel in (self.run.integ.mappings.get("stores") or {}).items() if channel == code]
            if len(feeding) != 1:
                reasons.append(
                    f"warehouse `{code}` is not mapped — add it to mappings.order_stores"
                    if not feeding
                    else f"warehouse `{code}` is fed by {sorted(feeding)} in mappings.stores — name its "
                    "shipment store in mappings.order_stores"
                )
                return None
            name = feeding[0]
        found = ref.stores.get(name) or (name if name in ref.stores.values() else None)
        if found is None:
            self._missed = True
            reasons.append(
                f"the ERP has no store `{name}` (shipment store of warehouse `{code}`) — fix mappings.order_stores"
            )
        return found

    def _organization(self, reasons: list[str]) -> str:
        ref = self.reference
        assert ref is not None
        name = self.options.organization
        if name is None:
            first = next(iter(ref.organizations.values()), None)
            if first is None:
                self._missed = True
                reasons.append("the ERP has no organization — create one there")
            return first or ""
        if name not in ref.organizations:
            self._missed = True
            reasons.append(f"the ERP has no organization `{name}` — fix options.orders.organization")
        return ref.organizations.get(name, "")

    def _delivery(
        self, order: dict[str, Any], lines: list[dict[str, Any]], kinds: dict[str, str], reasons: list[str]
    ) -> None:
        dtype, cost = order.get("delivery_type"), order.get("delivery_cost")
        if not self.options.delivery_line or (dtype is None and not cost):
            return
        types = self.run.integ.mappings.get("delivery_types") or {}
        if dtype is not None and str(dtype) in types:
            service = types[str(dtype)]
        elif self.options.unmapped_delivery == "hold":
            reasons.append(f"delivery type `{dtype}` is not mapped — add it to mappings.delivery_types")
            return
        else:
            service = self.options.default_delivery
            self.planned.unmapped_delivery.add(str(dtype))
        if service is None:
            return
        assert self.reference is not None
        sid = self.reference.services.get(service)
        if sid is None:
            self._missed = True
            reasons.append(
                f"the ERP has no service `{service}` for delivery `{dtype}` — fix mappings.delivery_types "
                "or options.orders.default_delivery"
            )
            return
        lines.append(
            {
                "order_id": order["order_id"],
                "line_no": max((int(x["line_no"]) for x in lines), default=0) + 1,
                "offer_id": sid,
                "name": service,
                "quantity": 1.0,
                "price": int(cost or 0),
                "discount": None,
                "vat_rate": None,
            }
        )
        kinds[sid] = "service"

    def _payments(self, c: OrderContents, reasons: list[str]) -> list[dict[str, Any]]:
        """The order's payments with their type mapped (``mappings.payment_types``; null: left out)."""
        types = self.run.integ.mappings.get("payment_types") or {}
        out = []
        for payment in c.payments:
            ptype = str(payment.get("type"))
            if ptype in types:
                if types[ptype] is not None:
                    out.append({**payment, "type": types[ptype]})
            elif self.options.unmapped_payment == "hold":
                reasons.append(f"payment type `{ptype}` is not mapped — add it to mappings.payment_types")
        return out

    @staticmethod
    def _customer(c: OrderContents, reasons: list[str]) -> None:
        if not c.order.get("customer_id") or c.customer is None:
            reasons.append("the order has no customer — set one in the channel")
        elif not any(c.customer.get(k) for k in ("name", "first_name", "last_name")):
            reasons.append(f"customer {c.customer['customer_id']} has no name — fill it in the channel")

    # -- parking ---------------------------------------------------------------------------------

    def _park(self, c: OrderContents, h: str, reasons: list[str], before: dict[str, Any] | None) -> None:
        queue, stamp = self.run.store.queue, self.stamp()
        reason = "; ".join(reasons)
        key = f"{self.run.name}:{ORDERS}:{c.order_id}:{h[:16]}:parked:{stamp[:16]}"
        item = queue.enqueue(self.run.name, ORDERS, key, {"order_id": c.order_id, "hash": h, "parked": reasons})
        if item.status == QueueStatus.PENDING:
            queue.fail(item.id, f"order {c.order.get('number') or c.order_id} parked: {reason}", retryable=False)
        self._unpark(before, item.id, forget=False)
        row = {"order_id": c.order_id, "hash": h, "stamp": stamp, "item_id": item.id, "reason": reason}
        self.run.store.records.upsert_frame(
            self.run.name, PARKED, self.run.source_system, pd.DataFrame([row]), "order_id"
        )
        self.planned.parked += 1
        self.planned.reasons[c.order_id] = reason

    def _unpark(self, before: dict[str, Any] | None, new_item: int | None, *, forget: bool = True) -> None:
        """The order was planned again: its previous parked item is superseded (done, not dead)."""
        if before is None:
            return
        if int(before["item_id"]) != new_item:
            self.run.store.queue.complete(int(before["item_id"]), {"superseded_by": new_item})
        if forget:
            self.run.store.records.delete(self.run.name, PARKED, keys=[str(before["order_id"])])
