"""retailCRM's OrderSource and StatusSink over loopback HTTP, and the history's shape against the verbatim sample."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.retailcrm.capabilities.orders import RetailCRMOrders
from connectors.retailcrm.client import RetailCRMClient
from connectors.retailcrm.sandbox import RetailCRMSandbox
from connectors.retailcrm.sandbox.orders import create_order
from connectors.retailcrm.settings import RetailCRMSettings
from connectors.sandboxing import LoopbackServer
from hub import systems
from hub.capabilities import WRITE_STATUS, HubWrite, OrderSource, StatusSink

from .conftest import KEY, sample

SETTINGS = RetailCRMSettings.model_validate(
    {"system": "retailcrm", "base_url": "http://crm.test", "api_key": "${CRM_KEY}"}
)


@pytest.fixture
def served() -> Iterator[tuple[RetailCRMSandbox, str]]:
    sb = RetailCRMSandbox(api_key=KEY)
    sb.seed_catalog(40)
    sb.add_api_key("other-key")
    with LoopbackServer(sb.app) as server:
        yield sb, server.url


def run(base: str, fn: Any, key: str = KEY) -> Any:
    async def go() -> Any:
        async with RetailCRMClient(base, api_key=key) as crm:
            return await fn(RetailCRMOrders(crm, SETTINGS), crm)

    return asyncio.run(go())


def requests(sb: RetailCRMSandbox, prefix: str = "/api/v5/orders") -> int:
    return sb.log.count(path_prefix=prefix)


def test_reading_from_now_on_then_changes_of_others_not_ours(served: tuple[RetailCRMSandbox, str]) -> None:
    sb, base = served
    sb.seed_orders(120)  # history before the integration starts: never read
    start = run(base, lambda src, _: src.changed_orders(None))
    assert start.orders.empty and start.cursor == str(sb.history[-1].id) and requests(sb) == 2
    offer = next(o for o in sb.state.offers.values())
    new = create_order(
        sb.state,
        {"status": "new", "items": [{"offer": {"id": offer["id"]}, "quantity": 2}], "firstName": "Ада"},
        "main",
        None,
    )["id"]
    sb.user_edit_order(new, {"status": "client-confirmed"})
    sb.user_edit_order(new, {"status": "assembling"})  # passed client-confirmed between two reads

    async def ours_and_theirs(src: RetailCRMOrders, crm: RetailCRMClient) -> None:
        await crm.edit_order(5, {"managerComment": "наш"}, by="id")

    run(base, ours_and_theirs)
    run(base, lambda _, crm: crm.edit_order(6, {"managerComment": "чужой"}, by="id"), key="other-key")
    before = requests(sb)
    batch = run(base, lambda src, _: src.changed_orders(start.cursor))
    assert requests(sb) == before + 2  # one history page, one read of the changed orders
    assert sorted(batch.orders["order_id"]) == [str(new), "6"] and not batch.more
    assert batch.passed_statuses[str(new)] == {"new", "client-confirmed", "assembling"}
    assert batch.cursor == str(sb.history[-1].id)
    line = batch.lines[batch.lines["order_id"] == str(new)].iloc[0]
    assert line["offer_id"] == offer["xmlId"] and line["quantity"] == 2.0  # the MoySklad id the feed gave it
    assert batch.customers["first_name"].tolist().count("Ада") == 1
    before = requests(sb)
    idle = run(base, lambda src, _: src.changed_orders(batch.cursor))
    assert idle.orders.empty and idle.cursor == batch.cursor and requests(sb) == before + 1  # one request a poll


def test_has_changes_asks_once_and_sees_others_changes_not_ours(served: tuple[RetailCRMSandbox, str]) -> None:
    """The few-second poll's question: one request, True only for what the upload would read."""
    sb, base = served
    sb.seed_orders(3)
    cursor = run(base, lambda src, _: src.changed_orders(None)).cursor
    before = requests(sb)
    assert run(base, lambda src, _: src.has_changes(cursor)) is False and requests(sb) == before + 1
    run(base, lambda _, crm: crm.edit_order(2, {"managerComment": "наш"}, by="id"))  # our own key's edit
    assert run(base, lambda src, _: src.has_changes(cursor)) is False
    sb.user_edit_order(1, {"status": "assembling"})  # a manager's
    assert run(base, lambda src, _: src.has_changes(cursor)) is True
    moved = run(base, lambda src, _: src.changed_orders(cursor)).cursor
    assert run(base, lambda src, _: src.has_changes(moved)) is False


def test_more_than_a_page_of_history_is_read_page_by_page(served: tuple[RetailCRMSandbox, str]) -> None:
    sb, base = served
    start = run(base, lambda src, _: src.changed_orders(None))
    sb.seed_orders(150)
    first = run(base, lambda src, _: src.changed_orders(start.cursor))
    second = run(base, lambda src, _: src.changed_orders(first.cursor))
    assert first.more and not second.more and len(first.orders) == 100 and len(second.orders) == 50
    assert set(first.orders["order_id"]).isdisjoint(second.orders["order_id"])


def test_history_records_have_the_verbatim_samples_shape(served: tuple[RetailCRMSandbox, str]) -> None:
    sb, base = served
    verbatim = sample("retailcrm-customers-history.response.json")["history"]
    user_made = next(r for r in verbatim if r.get("source") == "user")
    api_made = next(r for r in verbatim if r.get("source") == "api")
    sb.seed_orders(1)
    run(base, lambda _, crm: crm.edit_order(1, {"status": "complete"}, by="id"), key="other-key")
    sb.state.record(
        sb.state.history,
        field_name="manager",
        old=None,
        new={"id": 3},
        entity={"id": 1, "site": "main"},
        author_key=None,
        source="code",
    )

    async def page(src: RetailCRMOrders, crm: RetailCRMClient) -> dict[str, Any]:
        return await crm._call("GET", "/orders/history", params=[("limit", "100")])

    ours = run(base, page)["history"]
    theirs = run(base, page, key="other-key")["history"]
    created, edited, code = ours[0], ours[-2], ours[-1]
    assert list(created)[:-1] == list(user_made)[:-1] and created["created"] is True and "order" in created
    assert list(edited)[:-1] == [k for k in api_made if k != "created"][:-1]  # the entity key differs only
    assert list(edited) == ["id", "createdAt", "source", "field", "apiKey", "oldValue", "newValue", "order"]
    assert edited["apiKey"] == {"current": False} and theirs[-2]["apiKey"] == {"current": True}
    assert edited["newValue"] == {"code": "complete"} and code["source"] == "code" and "apiKey" not in code


def test_record_erp_ids_only_where_no_other_integration_keeps_its_id(served: tuple[RetailCRMSandbox, str]) -> None:
    sb, base = served
    offer = next(iter(sb.state.offers))
    plain = [create_order(sb.state, {"items": [{"offer": {"id": offer}}]}, "main", None)["id"] for _ in range(3)]
    shop = create_order(sb.state, {"externalId": "bitrix-77", "items": [{"offer": {"id": offer}}]}, "main", None)["id"]
    start = run(base, lambda src, _: src.changed_orders(None))
    erp = {str(o): f"ms-{o}" for o in [*plain, shop]} | {"999": "ms-x"}
    before = requests(sb)
    refused = run(base, lambda src, _: src.record_erp_ids(erp))
    assert requests(sb) == before + 2  # one statuses read, one fix-external-ids for the batch
    assert set(refused) == {str(shop), "999"} and "bitrix-77" in refused[str(shop)]
    assert [sb.state.orders[o]["externalId"] for o in plain] == [f"ms-{o}" for o in plain]
    assert sb.state.orders[shop]["externalId"] == "bitrix-77"
    assert [r.field for r in sb.history[-3:]] == ["external_id"] * 3
    assert run(base, lambda src, _: src.changed_orders(start.cursor)).orders.empty  # our own writes: no echo
    before = requests(sb)
    assert run(base, lambda src, _: src.record_erp_ids({str(plain[0]): f"ms-{plain[0]}"})) == {}
    assert requests(sb) == before + 1  # already there: nothing written


def test_set_statuses_edits_only_what_differs_and_refuses_unknown(served: tuple[RetailCRMSandbox, str]) -> None:
    sb, base = served
    ids = sb.seed_orders(6)
    start = run(base, lambda src, _: src.changed_orders(None))
    current = {str(i): sb.state.orders[i]["status"] for i in ids}
    wanted = {
        str(ids[0]): "complete" if current[str(ids[0])] != "complete" else "new",
        str(ids[1]): current[str(ids[1])],
        str(ids[2]): "Отгружен",
        "999": "complete",
    }
    before = requests(sb)
    refused = run(base, lambda src, _: src.set_statuses(wanted))
    assert set(refused) == {str(ids[2]), "999"} and "not an active status" in refused[str(ids[2])]
    assert sb.state.orders[ids[0]]["status"] == wanted[str(ids[0])]
    # the reference book, one statuses read, one edit: the unchanged order is not written
    assert requests(sb, "/api/v5/reference") + requests(sb) - before == 3
    assert run(base, lambda src, _: src.changed_orders(start.cursor)).orders.empty
    statuses = run(base, lambda src, _: src.statuses())
    assert "complete" in statuses and "cancel-other" in statuses


def test_orders_in_period_pages_within_bounds_and_statuses(served: tuple[RetailCRMSandbox, str]) -> None:
    sb, base = served
    ids = sb.seed_orders(130)
    sb.state.orders[ids[0]]["createdAt"] = "2020-01-01 10:00:00"
    now = datetime.now(UTC)
    first = run(base, lambda src, _: src.orders_in_period(now - timedelta(days=1), now + timedelta(minutes=1), []))
    second = run(
        base, lambda src, _: src.orders_in_period(now - timedelta(days=1), now + timedelta(minutes=1), [], first.cursor)
    )
    assert first.cursor == "2" and second.cursor is None and len(first.orders) + len(second.orders) == 129
    done = run(
        base, lambda src, _: src.orders_in_period(now - timedelta(days=1), now + timedelta(minutes=1), ["complete"])
    )
    assert set(done.orders["status"]) == {"complete"}
    assert len(done.orders) == sum(o["status"] == "complete" for i, o in sb.state.orders.items() if i != ids[0])


def test_retailcrm_declares_the_order_capabilities() -> None:
    found = systems.connector("retailcrm")
    assert found.can(OrderSource) and found.can(StatusSink) and "orders" in found.streams("reads")
    assert isinstance(RetailCRMOrders(None, SETTINGS), OrderSource)
    assert isinstance(RetailCRMOrders(None, SETTINGS), StatusSink)


class Written:
    """The hub's writes as the hub store would answer them (a list, for the connector's side alone)."""

    def __init__(self, *writes: HubWrite) -> None:
        self.writes = list(writes)
        self.asked: list[list[str]] = []

    def hub_writes(self, order_ids: Sequence[str]) -> Sequence[HubWrite]:
        self.asked.append(list(order_ids))
        return [w for w in self.writes if w.order_id in order_ids]


def test_only_the_hubs_recorded_writes_are_echoes_not_everything_made_with_its_key(
    served: tuple[RetailCRMSandbox, str],
) -> None:
    """A site module or script sharing the hub's key: its orders and edits are read, the creations named."""
    sb, base = served
    ids = [str(i) for i in sb.seed_orders(3)]
    start = run(base, lambda src, _: src.changed_orders(None))
    offer = next(iter(sb.state.offers.values()))
    now = datetime.now(UTC)
    written = Written(
        HubWrite(ids[0], WRITE_STATUS, "complete", now - timedelta(seconds=1)),  # still open
        HubWrite(ids[2], WRITE_STATUS, "assembling", now - timedelta(hours=3), now - timedelta(hours=3)),
    )

    async def shared_key(src: RetailCRMOrders, crm: RetailCRMClient) -> str:
        await crm.edit_order(ids[0], {"status": "complete"}, by="id")  # the hub's status write (recorded)
        await crm.edit_order(ids[1], {"status": "assembling"}, by="id")  # a script's edit with the same key
        await crm.edit_order(ids[2], {"status": "assembling"}, by="id")  # same value the hub wrote hours ago
        site = await crm.create_order({"status": "new", "firstName": "Сайт", "items": [{"offer": {"id": offer["id"]}}]})
        return str(site["id"])

    site_order = run(base, shared_key)

    assert run(base, lambda src, _: src.has_changes(start.cursor, written=written)) is True
    batch = run(base, lambda src, _: src.changed_orders(start.cursor, written=written))
    assert sorted(batch.orders["order_id"]) == sorted([ids[1], ids[2], site_order])  # not the hub's echo
    assert batch.shared_credential_orders == (site_order,)
    assert batch.passed_statuses[site_order] == {"new"} and batch.cursor == str(sb.history[-1].id)
    assert written.asked and site_order not in written.asked[0]  # a creation is never the hub's: not looked up

    moved = batch.cursor
    run(base, lambda _, crm: crm.edit_order(ids[0], {"status": "new"}, by="id"))
    written.writes.append(
        HubWrite(ids[0], WRITE_STATUS, "new", datetime.now(UTC) - timedelta(seconds=2), datetime.now(UTC))
    )
    assert run(base, lambda src, _: src.has_changes(moved, written=written)) is False  # only the hub's echo
    echo = run(base, lambda src, _: src.changed_orders(moved, written=written))
    assert echo.orders.empty and echo.cursor == str(sb.history[-1].id) and echo.shared_credential_orders == ()


def test_an_order_deleted_in_the_crm_comes_as_deleted_not_as_a_change(served: tuple[RetailCRMSandbox, str]) -> None:
    sb, base = served
    sb.seed_orders(3)
    cursor = run(base, lambda src, _: src.changed_orders(None)).cursor
    sb.user_edit_order(2, {"status": "assembling"})
    sb.user_delete_order(2)
    sb.user_edit_order(3, {"status": "assembling"})
    batch = run(base, lambda src, _: src.changed_orders(cursor))
    assert batch.deleted_orders == ("2",) and list(batch.orders["order_id"]) == ["3"]
    assert "2" not in batch.passed_statuses
