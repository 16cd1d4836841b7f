"""MoySklad's own generated Python SDK (``moysklad-remap-12-sdk``) works against the sandbox unchanged.

It is pointed at the sandbox's base URL over a real loopback socket, lists the assortment, product
folders, price types, stores, counterparties and customer orders, creates a customer order, and
deserializes every response into its own pydantic models. (``moyskladapi`` needs Python ≥ 3.12 and
is not available here.) The SDK sends no ``Accept-Encoding`` by default, and MoySklad answers 415
without gzip, so the header is set once on the API client — configuration, not a code change.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors.moysklad.sandbox import API_PREFIX, MoySkladSandbox
from connectors.sandboxing import LoopbackServer
from tests.connectors.moysklad.conftest import TOKEN

# importing the generated SDK takes ~30-45 s (thousands of pydantic models): marked slow, and
# imported in a fixture so that deselecting the mark also skips the import
pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def sdk() -> Any:
    return pytest.importorskip("moysklad_remap_12_sdk")


@pytest.fixture
def api_client(sandbox: MoySkladSandbox, sdk: Any) -> Iterator[Any]:
    with LoopbackServer(sandbox.app) as server:
        config = sdk.Configuration(host=server.url + API_PREFIX, access_token=TOKEN)
        with sdk.ApiClient(config) as client:
            client.set_default_header("Accept-Encoding", "gzip")
            yield client


def test_sdk_lists_and_deserializes_everything(sandbox: MoySkladSandbox, sdk: Any, api_client: Any) -> None:
    assortment = sdk.AssortmentApi(api_client).get_assortment(limit=100, expand="images")
    assert assortment.meta.size == len([r for r in sandbox.store.assortment() if not r.get("archived")])
    assert len(assortment.rows) == 100
    folders = sdk.ProductFoldersApi(api_client).get_product_folders()
    assert len(folders.rows) == len([f for f in sandbox.store.of_type("productfolder").values() if not f["archived"]])
    price_types = sdk.PriceTypesApi(api_client).get_price_types()
    assert [p.name for p in price_types] == [p["name"] for p in sandbox.store.price_types]
    stores = sdk.StoresApi(api_client).get_stores()
    assert len(stores.rows) == 3
    orgs = sdk.OrganizationsApi(api_client).get_organizations()
    currencies = sdk.CurrenciesApi(api_client).get_currencies()
    assert orgs.rows[0].inn and any(c.iso_code == "RUB" for c in currencies.rows)


def test_sdk_creates_a_customer_order_and_lists_it(sandbox: MoySkladSandbox, sdk: Any, api_client: Any) -> None:
    cp_api, co_api = sdk.CounterpartiesApi(api_client), sdk.CustomerOrdersApi(api_client)
    agent = cp_api.create_counterparty(sdk.Counterparty(name="ООО Покупатель", company_type="legal"))
    org = sdk.OrganizationsApi(api_client).get_organizations().rows[0]
    product = next(p for p in sandbox.store.of_type("product").values() if not p["variantsCount"])
    base = api_client.configuration.host
    order = sdk.CustomerOrder.from_dict(
        {
            "organization": {"meta": {"href": org.meta.href, "type": "organization", "mediaType": "application/json"}},
            "agent": {"meta": {"href": agent.meta.href, "type": "counterparty", "mediaType": "application/json"}},
            "externalCode": "sdk-1",
            "positions": {
                "rows": [
                    {
                        "quantity": 2,
                        "price": 9900.0,
                        "assortment": {
                            "meta": {
                                "href": f"{base}/entity/product/{product['id']}",
                                "type": "product",
                                "mediaType": "application/json",
                            }
                        },
                    }
                ]
            },
        }
    )
    created = co_api.create_customer_order(order)
    assert created.external_code == "sdk-1" and created.sum == 19800.0
    listed = co_api.get_customer_order_list()
    assert [o.id for o in listed.rows] == [created.id]
    counterparties = cp_api.get_counterparties()
    assert [c.name for c in counterparties.rows] == ["ООО Покупатель"]
    assert sandbox.log.count(status=200) == len(sandbox.log)
