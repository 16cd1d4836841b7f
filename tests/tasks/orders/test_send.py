"""Sending queued orders on a staged SQLite hub through made-up capabilities that keep MoySklad's
rules (a create with a known idempotency key answers the first order): customers by link, search,
create; one bulk upsert; outcomes, links, snapshots; ERP ids written back, refusals journaled."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from hub.capabilities import HubWriteLog, OrderBatch, OrderDraft, OrderOutcome, OrderReference
from hub.store import QueueStatus, Store
from tasks.orders.plan import OrderPlanner
from tasks.orders.send import send_queued
from tasks.orders.stage import ORDERS, OrderRun, stage
from tests.tasks.orders.test_plan import REFERENCE, batch, hub_with_offers, run_of


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with hub_with_offers(tmp_path) as opened:
        yield opened


class Erp:
    """OrderSink and CustomerBook: orders kept by idempotency key, counterparties by phone."""

    max_batch = 2

    def __init__(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}  # key -> {id, draft}
        self.counterparties: dict[str, str] = {"+79990000001": "cp-known"}  # phone -> id
        self.calls: list[str] = []
        self.created: list[dict[str, Any]] = []  # the customers rows create_customers was given

    async def order_reference(self) -> OrderReference:
        return REFERENCE

    async def upsert_orders(self, drafts: Sequence[OrderDraft]) -> list[OrderOutcome]:
        self.calls.append(f"upsert {len(drafts)}")
        out = []
        for d in drafts:
            if d.order.get("comment") == "refuse":
                out.append(OrderOutcome(d.key, error="[3000] bad position"))
                continue
            kept = self.orders.setdefault(d.key, {"id": f"ms-{len(self.orders) + 1}"})
            kept["draft"] = d
            out.append(OrderOutcome(d.key, erp_id=kept["id"]))
        return out

    async def find_orders(self, external_ids: Sequence[str]) -> dict[str, str]:
        return {}

    async def find_customers(self, customers: pd.DataFrame, by: Sequence[str]) -> dict[str, str]:
        self.calls.append(f"find {len(customers)} by {list(by)}")
        return {
            str(r["customer_id"]): self.counterparties[r["phone"]]
            for r in customers.to_dict("records")
            if r["phone"] in self.counterparties
        }

    async def create_customers(
        self, customers: pd.DataFrame, *, group: str | None, keys: Mapping[str, str]
    ) -> dict[str, OrderOutcome]:
        self.calls.append(f"create {len(customers)} in {group}")
        self.created += [{str(k): v for k, v in row.items()} for row in customers.to_dict("records")]
        out = {}
        for row in customers.to_dict("records"):
            cid = str(row["customer_id"])
            self.counterparties.setdefault(str(row["phone"]), f"cp-{cid}")
            out[cid] = OrderOutcome(keys[cid], erp_id=self.counterparties[str(row["phone"])])
        return out


class Channel:
    """OrderSource: keeps the ERP ids written back; order 13 holds another integration's id."""

    def __init__(self) -> None:
        self.written: dict[str, str] = {}

    async def changed_orders(
        self, cursor: str | None, limit: int = 100, *, written: HubWriteLog | None = None
    ) -> OrderBatch:
        raise AssertionError("not read here")

    async def has_changes(self, cursor: str, *, written: HubWriteLog | None = None) -> bool:
        raise AssertionError("not asked here")

    async def orders_in_period(
        self, start: datetime, end: datetime, statuses: Sequence[str], page: str | None = None
    ) -> OrderBatch:
        raise AssertionError("not read here")

    async def record_erp_ids(self, erp_ids: Mapping[str, str]) -> dict[str, str]:
        self.written.update({k: v for k, v in erp_ids.items() if k != "13"})
        return {"13": "order 13 already has externalId 'bitrix-1'"} if "13" in erp_ids else {}


def queue_orders(run: OrderRun, *orders: dict[str, Any]) -> None:
    staged = stage(run, batch(*orders))
    OrderPlanner(run, REFERENCE).plan(staged.eligible)


def send(run: OrderRun, erp: Erp, channel: Channel) -> Any:
    return asyncio.run(send_queued(run, erp, erp, channel))


def customer(cid: str, phone: str) -> dict[str, Any]:
    return {"customer_id": cid, "first_name": "Ада", "phone": phone}


def test_customers_by_link_then_search_then_create_and_orders_in_bulk(tmp_path: Path, store: Store) -> None:
    run, erp, channel = run_of(tmp_path, store, customer_group="shop"), Erp(), Channel()
    legal = {
        **customer("c2", "+79990000002"),
        "company_type": "legal",
        "name": "ООО Ромашка",
        "bank_account": "40702810900000000001",
        "bank_bic": "044525225",
    }
    queue_orders(
        run,
        {"order_id": "11", "customer": customer("c1", "+79990000001")},
        {"order_id": "12", "customer": legal},
        {"order_id": "13", "customer": legal},
    )
    sent = send(run, erp, channel)
    # a new legal entity goes to the ERP with its bank account (the staged customer row, whole)
    assert [(r["customer_id"], r["name"], r["bank_account"], r["bank_bic"]) for r in erp.created] == [
        ("c2", "ООО Ромашка", "40702810900000000001", "044525225")
    ]
    assert erp.calls == ["find 2 by ['phone', 'email', 'inn']", "create 1 in shop", "upsert 2", "upsert 1"]
    assert (sent.batches, sent.accepted, sent.created, sent.customers_found, sent.customers_created) == (2, 3, 3, 1, 1)
    assert {k: v["draft"].customer_id for k, v in erp.orders.items()} == {
        "shop:11": "cp-known",
        "shop:12": "cp-c2",
        "shop:13": "cp-c2",
    }
    assert channel.written == {"11": "ms-1", "12": "ms-2"} and sent.erp_ids_not_written == 1
    warning = store.journal.list(integration="shop", level="warning")[0]
    assert warning.event == "orders.erp-id-not-written" and "bitrix-1" in warning.message
    assert all(i.status == QueueStatus.DONE for i in store.queue.list(integration="shop", kind=ORDERS))
    assert set(store.snapshots.hashes("shop", ORDERS)) == {"11", "12", "13"}

    # the customer's next order: the link answers, no search and no create; an edit updates the same order
    erp.calls.clear()
    queue_orders(
        run,
        {"order_id": "14", "customer": customer("c2", "+79990000002")},
        {"order_id": "12", "customer": customer("c2", "+79990000002"), "lines": [("o-1", 5.0)]},
    )
    sent = send(run, erp, channel)
    assert erp.calls == ["upsert 2"] and sent.created == 1 and len(erp.orders) == 4
    assert erp.orders["shop:12"]["draft"].erp_id == "ms-2" and erp.orders["shop:14"]["draft"].erp_id is None
    assert channel.written["14"] == "ms-4"


def test_a_refused_order_fails_alone_and_a_resend_makes_no_second_order(tmp_path: Path, store: Store) -> None:
    run, erp, channel = run_of(tmp_path, store), Erp(), Channel()
    queue_orders(run, {"order_id": "21", "comment": "refuse"}, {"order_id": "22"})
    sent = send(run, erp, channel)
    assert (sent.accepted, sent.refused) == (1, 1) and list(erp.orders) == ["shop:22"]
    refused = next(i for i in store.queue.list(integration="shop", kind=ORDERS) if i.payload["order_id"] == "21")
    assert refused.status == QueueStatus.DEAD and "the ERP refused order 21: [3000] bad position" in (
        refused.last_error or ""
    )
    assert store.journal.list(integration="shop", level="error")[0].event == "orders.refused"

    # the completion was lost (a crash after the ERP committed): the item is sent again, the ERP answers the same
    done = next(i for i in store.queue.list(integration="shop", kind=ORDERS) if i.payload["order_id"] == "22")
    store.snapshots.delete("shop", ORDERS, ["22"])
    store.queue.retry_dead("shop")
    store.queue.enqueue("shop", ORDERS, done.idempotency_key + ":again", dict(done.payload))
    sent = send(run, erp, channel)
    assert len(erp.orders) == 1 and erp.orders["shop:22"]["id"] == "ms-1" and sent.created == 0


def test_superseded_and_accepted_items_are_skipped_without_a_request(tmp_path: Path, store: Store) -> None:
    run, erp, channel = run_of(tmp_path, store), Erp(), Channel()
    queue_orders(run, {"order_id": "31"})
    stage(run, batch({"order_id": "31", "lines": [("o-2", 1.0)]}))  # edited before the old item was sent
    sent = send(run, erp, channel)
    assert (sent.skipped, erp.calls) == (1, [])
    item = store.queue.list(integration="shop", kind=ORDERS)[0]
    assert item.status == QueueStatus.DONE and item.result == {"skipped": "superseded by newer contents"}
