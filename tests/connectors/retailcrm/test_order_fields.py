"""retailCRM order fields over the sandbox: a dictionary field read as its element's name and written as
its code (a name the dictionary lacks refused, nothing added to it), the manager set, the users read."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.retailcrm.capabilities.order_fields import RetailCRMOrderFields
from connectors.retailcrm.sandbox import RetailCRMSandbox
from connectors.retailcrm.sandbox.custom_fields import add_dictionary, add_field
from connectors.retailcrm.sandbox.users import add_user
from connectors.retailcrm.sandbox.wire import ApiError
from connectors.retailcrm.settings import RetailCRMSettings
from hub.capabilities import OrderFieldChange

from .conftest import MakeClient

SETTINGS = RetailCRMSettings.model_validate(
    {"system": "retailcrm", "base_url": "http://crm.test", "api_key": "${CRM_KEY}"}
)


def test_dictionary_fields_travel_by_name_and_are_written_by_code(
    sandbox: RetailCRMSandbox, make_client: MakeClient
) -> None:
    add_dictionary(sandbox.state, "channels", "Каналы", [("site", "Сайт"), ("market", "Маркетплейс")])
    add_field(sandbox.state, "channel", "Канал", "dictionary", "channels")
    add_field(sandbox.state, "note", "Заметка")
    manager = add_user(sandbox.state, "Анна", "Петрова", "anna@shop.example")
    offer = next(iter(sandbox.offers))
    order = sandbox.place_order(
        {"firstName": "Ада", "items": [{"offer": {"id": offer}}], "customFields": {"channel": "market", "note": "x"}}
    )
    bad: dict[str, Any] = {"firstName": "Ада", "items": [{"offer": {"id": offer}}], "customFields": {"channel": "tv"}}

    async def go() -> tuple[Any, ...]:
        async with make_client() as crm:
            fields = RetailCRMOrderFields(crm, SETTINGS)
            period = await fields.orders_in_period(
                datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC), []
            )
            refused = await fields.set_order_fields(
                {
                    str(order["id"]): OrderFieldChange({"channel": "Сайт", "note": "y"}, str(manager["id"])),
                    "999999": OrderFieldChange({"note": "z"}),
                }
            )
            unknown = await fields.set_order_fields({str(order["id"]): OrderFieldChange({"channel": "Телевизор"})})
            return period, refused, unknown, await fields.staff()

    period, refused, unknown, staff = asyncio.run(go())
    assert period.orders["custom_fields"].tolist() == ['{"channel": "Маркетплейс", "note": "x"}']
    assert list(refused) == ["999999"]
    held = sandbox.orders[order["id"]]
    assert (held["customFields"], held["managerId"]) == ({"channel": "site", "note": "y"}, manager["id"])
    assert "no element 'Телевизор'" in unknown[str(order["id"])]
    assert [e["code"] for e in sandbox.state.dictionaries["channels"]["elements"]] == ["site", "market"]
    assert [(p.person_id, p.name, p.email) for p in staff] == [(str(manager["id"]), "Петрова Анна", manager["email"])]
    with pytest.raises(ApiError) as refused_order:  # the CRM refuses an element its dictionary lacks
        sandbox.place_order(bad)
    assert "customFields[channel]" in (refused_order.value.errors or {})
