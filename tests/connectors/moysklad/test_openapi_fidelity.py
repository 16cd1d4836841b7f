"""Every response the client uses, and every body it sends, validates against the official spec."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from connectors.moysklad.client import MoySkladClient
from connectors.moysklad.convert.orders import sync_id_for
from connectors.moysklad.sandbox import MoySkladSandbox
from tests.connectors.moysklad.conftest import BASE, DAY, TOKEN, run, sample
from tests.connectors.moysklad.spec import SPEC, Recorder, SpecValidator
from tests.shared_apis import require


@pytest.fixture(autouse=True)
def _official_spec() -> None:
    require(SPEC)


@pytest.fixture(scope="module")
def validator() -> SpecValidator:
    return SpecValidator()


async def _scenario(ms: MoySkladClient, sandbox: MoySkladSandbox) -> None:
    """Every call the exchanges make, once."""
    rows = [r async for page in ms.iter_assortment(datetime(2026, 1, 1, tzinfo=UTC)) for r in page]
    [p async for p in ms.iter_product_folders()]
    await ms.list_currencies()
    await ms.list_price_types()
    orgs = await ms.list_organizations()
    stores = await ms.list_stores()
    await ms.variant_characteristics()
    owners = [r for r in rows if r["images"]["meta"]["size"]]
    await ms.fetch_images(owners)
    await ms.fetch_images(owners[:1])
    await ms.stock_current("bystore", "quantity")
    await ms.stock_current("all", "freeStock", changed_since=datetime.now(UTC) - timedelta(hours=1))
    cp = await ms.create_counterparty(
        {
            "name": "ИП Петров",
            "companyType": "entrepreneur",
            "inn": "771234567890",
            "phone": "+79991112233",
            "email": "p@example.ru",
            "syncId": sync_id_for("c:1"),
            "accounts": [{"accountNumber": "40802810000000000001"}],
            "contactpersons": [{"name": "Пётр", "phone": "+79991112233"}],
        }
    )
    await ms.find_counterparty(phone="+79991112233")
    product = next(r for r in rows if r["meta"]["type"] == "product" and not r.get("variantsCount"))
    refs = {
        "organization": ms.ref(f"entity/organization/{orgs[0]['id']}", "organization"),
        "agent": ms.ref(f"entity/counterparty/{cp['id']}", "counterparty"),
    }
    store = ms.ref(f"entity/store/{stores[0]['id']}", "store")
    line = {"quantity": 1.0, "price": 1000.0, "assortment": ms.ref(f"entity/product/{product['id']}", "product")}
    results = await ms.create_orders(
        [
            {
                **refs,
                "store": store,
                "syncId": sync_id_for("o:1"),
                "externalCode": "o:1",
                "positions": [{**line, "reserve": 1.0}],
            },
            {"externalCode": "bad"},
        ]
    )
    order = results[0].entity or {}
    single = await ms.create_order({**refs, "externalCode": "o:2", "syncId": sync_id_for("o:2")})
    states = await ms.list_states()
    await ms.update_order_state(order["id"], states[1]["id"])
    await ms.update_order_positions(single["id"], [line])
    [p async for p in ms.iter_orders(datetime.now(UTC) - timedelta(minutes=5))]
    await ms.get_order(order["id"])
    demand = await ms.create_demand(
        {**refs, "store": store, "customerOrder": {"meta": order["meta"]}, "positions": [line]}
    )
    await ms.create_move(
        {
            "organization": refs["organization"],
            "sourceStore": store,
            "targetStore": ms.ref(f"entity/store/{stores[1]['id']}", "store"),
            "positions": [line],
        }
    )
    await ms.create_paymentin({**refs, "sum": 1000.0, "operations": [{"meta": order["meta"], "linkedSum": 1000.0}]})
    await ms.create_cashin({**refs, "sum": 500.0})
    await ms.create_salesreturn({**refs, "store": store, "demand": {"meta": demand["meta"]}, "positions": [line]})
    await ms.ensure_webhook("https://hub.example/ms/orders", "customerorder", "UPDATE", diff_type="FIELDS")
    await ms.ensure_webhookstock("https://hub.example/ms/stock", "all")
    await ms.delete_own_webhooks("https://hub.example/ms")


def test_client_traffic_matches_the_official_schemas(sandbox: MoySkladSandbox, validator: SpecValidator) -> None:
    recorder = Recorder(httpx.ASGITransport(app=sandbox.app))

    async def go() -> None:
        async with MoySkladClient(BASE, token=TOKEN, token_kind="app", transport=recorder, today=DAY) as ms:
            await _scenario(ms, sandbox)

    run(go())
    problems: list[str] = []
    outside: set[str] = set()
    for ex in recorder.exchanges:
        found = validator.check(ex)
        if found is None:
            outside.add(ex.path)
        else:
            problems += found
    assert not problems, "\n".join(problems[:20])
    # the spec (2026-07) does not describe the current-stock reports; their shape is checked
    # against the verbatim doc samples instead (test below)
    assert outside == {"/report/stock/bystore/current", "/report/stock/all/current"}
    assert len(recorder.exchanges) > 30


def test_stock_current_matches_the_doc_samples(sandbox: MoySkladSandbox) -> None:
    bystore = sandbox.ledger.report(by_store=True, stock_type="freeStock")
    total = sandbox.ledger.report(by_store=False, stock_type="quantity", include_zero=True)
    doc_bystore = sample("stock_bystore_current_freestock.json")
    assert {tuple(sorted(r)) for r in bystore} == {tuple(sorted(r)) for r in doc_bystore}
    assert {tuple(sorted(r)) for r in total} == {
        tuple(sorted(r)) for r in sample("stock_all_current_quantity_zerolines.json")
    }


def test_verbatim_samples_validate_like_our_responses(validator: SpecValidator) -> None:
    """The validator itself is calibrated on the samples: they pass it as our responses must."""
    for name, schema in (
        ("customerorder.json", "customerOrder"),
        ("counterparty.json", "counterparty"),
        ("customerorder_metadata.json", "documentMetadata"),
        ("product.json", "product"),
        ("variant.json", "variant"),
    ):
        assert validator.errors(validator.component(schema), sample(name)) == [], name
