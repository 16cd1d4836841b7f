"""The order upload's planning rules on a staged SQLite hub: what counts, how references resolve, what
is parked and why, and when a parked order is planned again (no HTTP: the ERP's books are given)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from hub import model
from hub.capabilities import OrderBatch, OrderReference
from hub.config import parse_config
from hub.store import QueueStatus, Store, open_store
from tasks.orders.plan import OrderPlanner
from tasks.orders.stage import ORDERS, OrderRun, contents, plan_order_run, stage

REFERENCE = OrderReference(
    states={"Новый": "st-new", "Подтвержден": "st-conf", "Отгружен": "st-done"},
    organizations={"ООО Ромашка": "org-1", "ИП Лютик": "org-2"},
    stores={"Основной склад": "s-main", "Склад 2": "s-2", "Склад 3": "s-3"},
    services={"Доставка курьером": "svc-courier", "Доставка": "svc-default"},
)


def config(tmp_path: Path, mappings: Mapping[str, Any] | None = None, **orders: Any) -> Any:
    return parse_config(
        {
            "integrations": {
                "shop": {
                    "systems": {
                        "ms": {"system": "moysklad", "token": "${SHOP_MS_TOKEN}"},
                        "crm": {
                            "system": "retailcrm",
                            "base_url": "https://x.retailcrm.ru",
                            "api_key": "${SHOP_CRM_KEY}",
                        },
                    },
                    "flows": {"orders": {"from": "crm", "to": "ms"}},
                    "mappings": {
                        "statuses": {"new": "Новый", "assembling": "Подтвержден"},
                        "stores": {"Основной склад": "msk", "Склад 2": "msk", "Склад 3": "spb"},
                        "delivery_types": {"courier": "Доставка курьером", "self-delivery": None},
                        **(mappings or {}),
                    },
                    "options": {"orders": orders},
                }
            }
        },
        source=tmp_path / "skladbridge.yaml",
        require_secrets=False,
    )


@contextmanager
def hub_with_offers(tmp_path: Path) -> Iterator[Store]:
    """A SQLite hub whose catalog has two offers (a product and a variant)."""
    with open_store(f"sqlite:///{tmp_path / 'hub.db'}") as opened:
        opened.records.upsert_frame(
            "shop",
            "offers",
            "moysklad",
            model.frame(
                "offers",
                [
                    {"offer_id": "o-1", "product_id": "p-1", "kind": "product", "name": "Чайник"},
                    {"offer_id": "o-2", "product_id": "p-2", "kind": "variant", "name": "Кеды (42)"},
                ],
            ),
            "offer_id",
        )
        yield opened


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with hub_with_offers(tmp_path) as opened:
        yield opened


def run_of(tmp_path: Path, store: Store, mappings: Mapping[str, Any] | None = None, **orders: Any) -> OrderRun:
    return plan_order_run(config(tmp_path, mappings, **orders), "shop", store)


def batch(*orders: dict[str, Any], passed: Mapping[str, frozenset[str]] | None = None) -> OrderBatch:
    rows, lines, customers = [], [], {}
    for o in orders:
        items = o.pop("lines", [("o-1", 2.0)])
        customer = o.pop("customer", {"customer_id": f"c{o['order_id']}", "first_name": "Ада", "phone": "+79991112233"})
        rows.append(
            {"status": "new", "number": f"{o['order_id']}A", "customer_id": customer["customer_id"], "total": 1000, **o}
        )
        lines += [
            {
                "order_id": o["order_id"],
                "line_no": n,
                "offer_id": item[0],
                "name": f"товар {n}",
                "quantity": item[1],
                "price": 50_000,
                "status": item[2] if len(item) > 2 else None,
            }
            for n, item in enumerate(items, start=1)
        ]
        customers[customer["customer_id"]] = customer
    return OrderBatch(
        model.frame("orders", rows),
        model.frame("order_lines", lines),
        model.frame("customers", list(customers.values())),
        dict(passed or {}),
        cursor="9",
    )


def plan(run: OrderRun, *orders: dict[str, Any], passed: Mapping[str, frozenset[str]] | None = None) -> OrderPlanner:
    staged = stage(run, batch(*orders, passed=passed))
    planner = OrderPlanner(run, REFERENCE)
    planner.plan(staged.eligible)
    return planner


def queued(store: Store, status: QueueStatus | None = None) -> list[Any]:
    return store.queue.list(integration="shop", kind=ORDERS, status=status, limit=500)


def test_an_order_counts_once_it_reaches_or_passed_an_upload_status_and_stays_counted(
    tmp_path: Path, store: Store
) -> None:
    run = run_of(tmp_path, store, upload_statuses=["assembling"])
    staged = stage(
        run,
        batch(
            {"order_id": "1", "status": "new"},
            {"order_id": "2", "status": "complete"},
            {"order_id": "3", "status": "assembling"},
            passed={"2": frozenset({"new", "assembling", "complete"}), "1": frozenset({"new"})},
        ),
    )
    assert staged.order_ids == ["1", "2", "3"] and staged.eligible == ["2", "3"]
    again = stage(run, batch({"order_id": "3", "status": "new"}))  # moved back: still counted
    assert again.eligible == ["3"]
    assert stage(run_of(tmp_path, store), batch({"order_id": "4", "status": "x"})).eligible == ["4"]  # [] = any


def test_a_resolved_order_is_queued_with_every_reference_from_the_hub_and_the_config(
    tmp_path: Path, store: Store
) -> None:
    run = run_of(tmp_path, store, mappings={"order_stores": {"msk": "Основной склад"}}, reserve=True)
    planner = plan(
        run,
        {
            "order_id": "7",
            "status": "assembling",
            "store_id": "spb",
            "delivery_type": "courier",
            "delivery_cost": 30_000,
            "external_id": "old-ms-id",
            "lines": [("o-1", 2.0), ("o-2", 1.0)],
        },
        {"order_id": "8", "store_id": "msk", "delivery_type": "self-delivery"},
    )
    assert (planner.planned.queued, planner.planned.parked) == (2, 0)
    items = {i.payload["order_id"]: i.payload for i in queued(store)}
    draft = items["7"]["draft"]
    assert draft["key"] == "shop:7" and draft["order"]["external_id"] == "7" and draft["order"]["number"] == "7A"
    assert (draft["state_id"], draft["store_id"], draft["organization_id"]) == ("st-conf", "s-3", "org-1")
    assert draft["reserve"] is True and items["7"]["customer_id"] == "c7"
    assert [(ln["offer_id"], ln["quantity"], ln["price"]) for ln in draft["lines"]] == [
        ("o-1", 2.0, 50_000),
        ("o-2", 1.0, 50_000),
        ("svc-courier", 1.0, 30_000),
    ]
    assert draft["line_kinds"] == {"o-1": "product", "o-2": "variant", "svc-courier": "service"}
    other = items["8"]["draft"]
    assert other["store_id"] == "s-main" and [ln["offer_id"] for ln in other["lines"]] == ["o-1"]  # pickup: no line


def test_reserve_by_line_status_holds_back_only_the_lines_in_those_statuses(tmp_path: Path, store: Store) -> None:
    run = run_of(
        tmp_path,
        store,
        mappings={"order_stores": {"msk": "Основной склад"}},
        reserve=True,
        reserve_line_statuses=["in-reserve"],
    )
    plan(
        run,
        {
            "order_id": "9",
            "store_id": "msk",
            "delivery_type": "self-delivery",
            "lines": [("o-1", 2.0, "in-reserve"), ("o-2", 1.0, "new")],
        },
    )
    draft = queued(store)[0].payload["draft"]
    assert draft["reserve"] is True
    assert [(ln["offer_id"], ln["reserve"]) for ln in draft["lines"]] == [("o-1", True), ("o-2", False)]


def test_cancelled_lines_lose_their_reserve_and_on_a_new_order_their_price(tmp_path: Path, store: Store) -> None:
    run = run_of(
        tmp_path,
        store,
        mappings={"order_stores": {"msk": "Основной склад"}},
        reserve=True,
        cancelled_line_statuses=["canceled"],
    )
    order = {
        "store_id": "msk",
        "delivery_type": "self-delivery",
        "lines": [("o-1", 2.0, "new"), ("o-2", 1.0, "canceled")],
    }
    plan(run, {"order_id": "11", **order})
    draft = queued(store)[0].payload["draft"]
    assert [(ln["offer_id"], ln["price"], ln.get("reserve")) for ln in draft["lines"]] == [
        ("o-1", 50_000, None),
        ("o-2", 0, False),  # new to the ERP: zero price, no reserve
    ]
    keys = store.links.ensure("shop", ORDERS, "retailcrm", ["12"])
    store.links.attach_many("shop", ORDERS, "moysklad", [(keys["12"], "erp-12")])
    plan(run, {"order_id": "12", **order})
    draft = next(i for i in queued(store) if i.payload["order_id"] == "12").payload["draft"]
    assert [(ln["offer_id"], ln["price"], ln.get("reserve")) for ln in draft["lines"]][1] == ("o-2", 50_000, False)

    dropping = run_of(tmp_path, store, cancelled_line_statuses=["canceled"], keep_cancelled_lines=False)
    plan(dropping, {"order_id": "13", "lines": [("o-1", 2.0, "new"), ("o-2", 1.0, "canceled")]})
    draft = next(i for i in queued(store) if i.payload["order_id"] == "13").payload["draft"]
    assert [ln["offer_id"] for ln in draft["lines"]] == ["o-1"]


def test_options_number_erp_organization_and_default_delivery(tmp_path: Path, store: Store) -> None:
    run = run_of(tmp_path, store, number="erp", organization="ИП Лютик", default_delivery="Доставка")
    planner = plan(run, {"order_id": "5", "delivery_type": "drone", "delivery_cost": 100})
    draft = queued(store)[0].payload["draft"]
    assert draft["order"]["number"] is None and draft["organization_id"] == "org-2"
    assert draft["lines"][-1]["offer_id"] == "svc-default" and planner.planned.unmapped_delivery == {"drone"}
    assert draft["state_id"] == "st-new" and draft["store_id"] is None and draft["reserve"] is False


@pytest.mark.parametrize(
    ("order", "reason"),
    [
        (
            {"order_id": "1", "lines": [("o-1", 1.0), ("o-404", 1.0)]},
            "line 2 (товар 2): offer o-404 is not in the catalog — publish the catalog",
        ),
        ({"order_id": "1", "lines": [(None, 1.0)]}, "line 1 (товар 1): not a catalog offer"),
        ({"order_id": "1", "status": "complete"}, "status `complete` is not mapped — add it to mappings.statuses"),
        (
            {"order_id": "1", "store_id": "msk"},
            "warehouse `msk` is fed by ['Основной склад', 'Склад 2'] in mappings.stores",
        ),
        ({"order_id": "1", "store_id": "ekb"}, "warehouse `ekb` is not mapped — add it to mappings.order_stores"),
        (
            {"order_id": "1", "customer": {"customer_id": "c1", "phone": "+79990000000"}},
            "customer c1 has no name — fill it in the channel",
        ),
        ({"order_id": "1", "delivery_type": "courier"}, None),  # resolvable: control
    ],
)
def test_an_unresolvable_order_is_parked_dead_with_a_reason_a_manager_can_act_on(
    tmp_path: Path, store: Store, order: dict[str, Any], reason: str | None
) -> None:
    planner = plan(run_of(tmp_path, store), order)
    items = queued(store)
    assert len(items) == 1
    if reason is None:
        assert items[0].status == QueueStatus.PENDING and planner.planned.parked == 0
        return
    assert items[0].status == QueueStatus.DEAD and "draft" not in items[0].payload
    assert reason in (items[0].last_error or "") and reason in planner.planned.reasons["1"]
    assert (items[0].last_error or "").startswith("order 1A parked:")


def test_a_wrong_state_or_store_name_in_the_mapping_parks_naming_it(tmp_path: Path, store: Store) -> None:
    run = run_of(tmp_path, store, mappings={"statuses": {"new": "новый"}, "order_stores": {"spb": "Склад 9"}})
    planner = plan(run, {"order_id": "1", "store_id": "spb"})
    reason = planner.planned.reasons["1"]
    assert "the ERP has no order state `новый`" in reason and "(case matters)" in reason
    assert "the ERP has no store `Склад 9`" in reason


def test_a_parked_order_is_planned_again_only_when_the_catalog_or_the_mappings_moved(
    tmp_path: Path, store: Store
) -> None:
    run = run_of(tmp_path, store)
    plan(run, {"order_id": "1", "lines": [("o-3", 1.0)]})
    assert OrderPlanner(run, REFERENCE).parked_due() == []  # same stamp: never in a loop
    stage(run, batch({"order_id": "1", "lines": [("o-3", 1.0)]}))  # read again, unchanged
    again = OrderPlanner(run, REFERENCE)
    again.plan(["1"])
    assert len(queued(store)) == 1 and again.planned.parked == 1  # the same dead item, not a new one

    store.records.upsert_frame(
        "shop",
        "offers",
        "moysklad",
        model.frame("offers", [{"offer_id": "o-3", "product_id": "p-3", "kind": "product", "name": "Лампа"}]),
        "offer_id",
    )  # catalog grew
    later = OrderPlanner(run, REFERENCE)
    assert later.parked_due() == ["1"]
    later.plan(later.parked_due(), replanning=True)
    assert later.planned.replanned == 1 and later.planned.queued == 1
    old, new = sorted(queued(store), key=lambda i: i.id)
    assert old.status == QueueStatus.DONE and old.result == {"superseded_by": new.id}
    assert new.status == QueueStatus.PENDING and new.payload["draft"]["lines"][0]["offer_id"] == "o-3"
    assert OrderPlanner(run, REFERENCE).parked_due() == []


def test_a_mapping_change_plans_a_parked_order_again(tmp_path: Path, store: Store) -> None:
    plan(run_of(tmp_path, store), {"order_id": "1", "status": "complete"})
    fixed = run_of(tmp_path, store, mappings={"statuses": {"new": "Новый", "complete": "Отгружен"}})
    planner = OrderPlanner(fixed, REFERENCE)
    assert planner.parked_due() == ["1"]
    planner.plan(["1"], replanning=True)
    assert queued(store, QueueStatus.PENDING)[0].payload["draft"]["state_id"] == "st-done"
    # and a retried parked item is planned again too (a state created in the ERP)
    plan(fixed, {"order_id": "2", "status": "lost"})
    dead = queued(store, QueueStatus.DEAD)[0]
    store.queue.retry(dead.id)
    assert OrderPlanner(fixed, REFERENCE).parked_due() == ["2"]


def test_only_contents_changed_since_accepted_are_planned_and_our_write_back_is_no_change(
    tmp_path: Path, store: Store
) -> None:
    run = run_of(tmp_path, store)
    plan(run, {"order_id": "1"})
    item = queued(store)[0]
    store.snapshots.save("shop", ORDERS, {"1": item.payload["hash"]})  # the ERP accepted it
    store.queue.complete(item.id)
    stage(run, batch({"order_id": "1", "external_id": "ms-order-id", "updated_at": "2026-12-01T10:00:00Z"}))
    assert OrderPlanner(run, REFERENCE).candidates(["1"]) == []  # the ERP id we wrote back is not an edit
    stage(run, batch({"order_id": "1", "lines": [("o-1", 3.0)]}))
    planner = OrderPlanner(run, REFERENCE)
    assert planner.candidates(["1"]) == ["1"]
    planner.plan(["1"])
    newest = queued(store)[0]
    assert newest.id != item.id and newest.payload["draft"]["lines"][0]["quantity"] == 3.0
    assert contents(run, ["1"])["1"].hash == newest.payload["hash"]
