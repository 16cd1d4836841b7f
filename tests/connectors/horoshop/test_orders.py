"""Orders read by a window with overlap, deduplicated; statuses set with a per-order log; the traps."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from connectors.horoshop.capabilities.orders import HoroshopOrders, Window
from connectors.horoshop.convert.orders import customer_key, orders_from_shop
from connectors.horoshop.sandbox import HoroshopSandbox
from connectors.horoshop.settings import HoroshopSettings
from tests.connectors.horoshop.conftest import MakeClient, sample

SETTINGS = HoroshopSettings.model_validate(
    {"system": "horoshop", "base_url": "http://shop.test", "login": "apiadmin", "password": "${HS_PASSWORD}"}
)


def _orders(make_client: MakeClient, work):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        async with make_client() as client:
            return await work(HoroshopOrders.over(client, SETTINGS))

    return asyncio.run(go())


def test_the_field_report_traps_are_converted_once() -> None:
    row = {
        "order_id": 7,
        "user": 42,
        "delivery_name": "Олена Коваленко",
        "delivery_phone": "067 123-45-67",
        "delivery_type": {"id": 1, "title": "Нова Пошта"},
        "delivery_price": -1,
        "total_sum": "1250.50",
        "stat_status": 1,
        "stat_created": "2026-12-07 10:00:00",
        "currency": "UAH",
        "products": [{"article": "A-1", "title": "Сукня", "price": 625.25, "quantity": 2, "total_price": 1250.5}],
    }
    frames = orders_from_shop([row, {**row, "order_id": 8, "delivery_price": 70}], tz="Europe/Kyiv")
    orders = frames["orders"].set_index("order_id")
    assert orders["delivery_cost"].isna()["7"] and orders.loc["7", "total"] == 125050  # not calculated
    assert orders.loc["8", "delivery_cost"] == 7000 and orders.loc["8", "total"] == 132050  # total_sum + delivery
    assert orders.loc["7", "customer_id"] == "phone:380671234567" != "42"  # user is not a customer
    assert orders.loc["7", "created_at"] == datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # Kyiv is UTC+2 in winter
    assert len(frames["customers"]) == 1  # one buyer, by phone


def test_the_sample_request_filters_are_what_the_sandbox_reads(shop: HoroshopSandbox) -> None:
    from connectors.horoshop.sandbox.orders import orders_get

    body = sample("horoshop-orders-get.request.json")
    answer = orders_get(shop.state, {k: v for k, v in body.items() if k != "token"})
    assert answer["status"] == "EMPTY"  # April 2021: the seeded shop has no orders then


def test_the_first_read_sets_a_cursor_and_later_reads_see_each_new_order_once(
    shop: HoroshopSandbox, make_client: MakeClient
) -> None:
    async def work(cap: HoroshopOrders) -> list[list[str]]:
        first = await cap.changed_orders(None)
        assert first.orders.empty and first.cursor
        shop.place_order(phone="+380501112233", name="Ірина Мельник", lines=[("HS-00001", 1)])
        second = await cap.changed_orders(first.cursor)
        # a late order committed with a creation time inside the overlap
        shop.place_order(
            phone="+380501112244",
            name="Марія Ткаченко",
            lines=[("HS-00002", 2)],
            created=datetime.now(UTC) - timedelta(minutes=5),
        )
        third = await cap.changed_orders(second.cursor)
        fourth = await cap.changed_orders(third.cursor)
        return [list(b.orders["order_id"]) for b in (second, third, fourth)]

    second, third, fourth = _orders(make_client, work)
    assert len(second) == 1 and len(third) == 1 and second != third
    assert fourth == []  # read again through the overlap, left out


def test_has_changes_is_one_request(shop: HoroshopSandbox, make_client: MakeClient) -> None:
    async def work(cap: HoroshopOrders) -> tuple[bool, bool]:
        cursor = Window(datetime.now(UTC)).dump()
        before = await cap.has_changes(cursor)
        shop.place_order(phone="+380501112233", name="Ірина Мельник", lines=[("HS-00001", 1)])
        return before, await cap.has_changes(cursor)

    assert _orders(make_client, work) == (False, True)
    assert [r.path for r in list(shop.log)].count("/orders/get") == 2


def test_orders_of_a_period_page_by_offset(shop: HoroshopSandbox, make_client: MakeClient) -> None:
    async def work(cap: HoroshopOrders) -> int:
        now = datetime.now(UTC)
        batch = await cap.orders_in_period(now - timedelta(days=60), now + timedelta(days=1), [], None)
        return len(batch.orders)

    assert _orders(make_client, work) == 12


def test_a_warning_with_one_refused_order_applies_the_others(shop: HoroshopSandbox, make_client: MakeClient) -> None:
    ids = sorted(shop.orders)[:3]
    shop.orders[ids[1]]["stat_status"] = 4  # cancelled: read-only

    async def work(cap: HoroshopOrders) -> dict[str, str]:
        return await cap.set_statuses({str(i): "2" for i in ids} | {"999999": "2"})

    refused = _orders(make_client, work)
    assert set(refused) == {str(ids[1]), "999999"}
    assert "read-only" in refused[str(ids[1])] and refused["999999"].startswith("NOT_FOUND")
    assert shop.orders[ids[0]]["stat_status"] == 2 and shop.orders[ids[2]]["stat_status"] == 2
    update = [r for r in list(shop.log) if r.path == "/orders/update"]
    assert len(update) == 1  # one request for the batch


def test_custom_statuses_are_read_from_the_api(shop: HoroshopSandbox, make_client: MakeClient) -> None:
    async def work(cap: HoroshopOrders) -> dict[str, str]:
        return await cap.status_titles()

    titles = _orders(make_client, work)
    assert titles["1"] == "Новий" and "Оплачено" in titles.values()


def test_the_update_sample_and_the_sandbox_agree(shop: HoroshopSandbox) -> None:
    from connectors.horoshop.sandbox.orders import orders_update

    exchange = sample("horoshop-orders-update.exchange.json")
    body = {k: v for k, v in exchange["request"]["body"].items() if k != "token"}
    body["orders"][0]["order_id"] = 1  # not one of the shop's
    answer = orders_update(shop.state, body)
    expected = exchange["response_partial_failure"]
    assert answer["status"] == expected["status"]
    assert answer["response"]["log"][0]["code"] == expected["response"]["log"][0]["code"]


def test_a_cursor_is_plain_json() -> None:
    cursor = Window(datetime(2026, 12, 7, tzinfo=UTC), frozenset({"3", "12"})).dump()
    assert json.loads(cursor)["seen"] == ["3", "12"]
    assert customer_key({"order_id": 5}) == "order:5"
