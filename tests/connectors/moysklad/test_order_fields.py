"""MoySklad order custom fields and owners over the sandbox: dictionary values by name (a missing entry
made once), typed plain values, unknown fields and employees refused, and the fields read back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import connectors.moysklad.sandbox.dictionaries as dictionaries
from connectors.moysklad.capabilities.order_fields import MoySkladOrderFields
from connectors.moysklad.capabilities.orders import MoySkladOrders
from connectors.moysklad.client import MoySkladClient
from connectors.moysklad.sandbox import MoySkladSandbox
from connectors.moysklad.sandbox.staff import add_employee
from hub.capabilities import OrderDraft
from tests.connectors.moysklad.conftest import run

Json = dict[str, Any]


def _draft(sandbox: MoySkladSandbox, key: str, fields: Json, owner: str | None = None) -> OrderDraft:
    org = next(iter(sandbox.store.of_type("organization")))
    agent = sandbox.writer.create("counterparty", {"name": f"Покупатель {key}"})
    product = next(p for p, o in sandbox.store.of_type("product").items() if not o.get("variantsCount"))
    return OrderDraft(
        key=key,
        order={"order_id": key, "number": key},
        lines=[{"offer_id": product, "quantity": 1.0, "price": 1000}],
        line_kinds={product: "product"},
        customer_id=agent["id"],
        organization_id=org,
        fields=fields,
        owner_id=owner,
    )


def test_fields_and_owner_go_with_the_order_and_a_missing_dictionary_entry_is_made_once(
    sandbox: MoySkladSandbox, make_client: Callable[..., MoySkladClient]
) -> None:
    channels = dictionaries.add_dictionary(sandbox, "Каналы")
    dictionaries.add_entry(sandbox, channels["id"], {"name": "Сайт"})
    dictionaries.add_custom_field(sandbox, "customerorder", "Канал", dictionary=channels)
    dictionaries.add_custom_field(sandbox, "customerorder", "Коробок", "long")
    dictionaries.add_custom_field(sandbox, "customerorder", "Срочно", "boolean")
    manager = add_employee(sandbox, "Анна", "Петрова", "anna@shop.example")
    entries = sandbox.store.of_type(dictionaries.entries_type(channels["id"]))

    async def go() -> tuple[Any, ...]:
        async with make_client() as ms:
            orders = MoySkladOrders(ms)
            drafts = [
                _draft(sandbox, "s:1", {"Канал": "Маркет", "Коробок": "2", "Срочно": "true"}, manager["id"]),
                _draft(sandbox, "s:2", {"Канал": "Маркет"}),
                _draft(sandbox, "s:3", {"Нет такого": "x"}),
                _draft(sandbox, "s:4", {"Канал": "Сайт"}, "00000000-0000-4000-8000-000000000000"),  # no such employee
                _draft(sandbox, "s:5", {"Коробок": "много"}),  # not a number
            ]
            first = await orders.upsert_orders(drafts)
            again = await MoySkladOrders(ms).upsert_orders(drafts[:2])  # a re-run: nothing new in the dictionary
            read = await MoySkladOrderFields(ms).changed_order_fields(
                datetime.now(UTC) - timedelta(minutes=5), ["Канал", "Коробок"]
            )
            staff = await MoySkladOrderFields(ms).staff()
            return first, again, read, staff

    first, again, read, staff = run(go())
    assert [o.erp_id is not None for o in first] == [True, True, False, False, False]
    assert "'Коробок' (long) cannot take 'много'" in (first[4].error or "")
    assert "Нет такого" in (first[2].error or "") and "mappings.custom_fields" in (first[2].error or "")
    assert "owner" in (first[3].error or "")  # MoySklad refuses an employee that does not exist
    assert sorted(e["name"] for e in entries.values()) == ["Маркет", "Сайт"]  # made once for two orders
    assert [o.erp_id for o in again] == [o.erp_id for o in first[:2]]
    saved = sandbox.store.get("customerorder", first[0].erp_id or "")
    assert saved is not None and saved["owner"]["meta"]["href"].endswith(manager["id"])
    values = {a["name"]: a["value"] for a in saved["attributes"]}
    assert values["Коробок"] == 2 and values["Срочно"] is True and values["Канал"]["name"] == "Маркет"
    back = {r.erp_order_id: r for r in read}
    assert back[first[0].erp_id or ""].fields == {"Канал": "Маркет", "Коробок": 2}
    assert back[first[0].erp_id or ""].owner_id == manager["id"]
    assert [(p.person_id, p.email) for p in staff] == [(manager["id"], "anna@shop.example")]
