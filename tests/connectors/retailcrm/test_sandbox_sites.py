"""A ``site`` that is not the account's is refused before anything is written, as retailCRM does.

400 with ``success: false`` for a code the account does not have (the ``site`` parameter of any
method, ``reference/sites`` included, and the per-entry ``site`` of a prices upload); 403 "Access
denied." for another key's store. The whole batch is refused: no stock or price of it changes.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from connectors.retailcrm.sandbox import RetailCRMSandbox

KEY, SHOP_KEY = "sandbox-key", "shop-a-key"


def account() -> RetailCRMSandbox:
    """Two stores; ``KEY`` covers both, ``SHOP_KEY`` only shop-a; four offers in each."""
    sandbox = RetailCRMSandbox(api_key=KEY, sites=("shop-a", "shop-b"))
    sandbox.add_api_key(SHOP_KEY, ["shop-a"])
    sandbox.seed_catalog(4, site="shop-a")
    sandbox.seed_catalog(4, site="shop-b", seed=1)
    return sandbox


def send(sandbox: RetailCRMSandbox, method: str, path: str, key: str = KEY, **fields: Any) -> httpx.Response:
    """One call: GET parameters or a POST form (nested values as JSON strings, as the API wants)."""
    data = {k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=sandbox.app), base_url="http://t/api/v5", headers={"X-API-KEY": key}
        ) as http:
            if method == "GET":
                return await http.get(path, params=data)
            return await http.post(path, data=data)

    return asyncio.run(go())


def offer_ref(sandbox: RetailCRMSandbox, site: str) -> dict[str, str]:
    offer = next(o for o in sandbox.offers.values() if o["site"] == site)
    return {"externalId": offer["externalId"]}


def test_inventories_upload_to_an_unknown_site_is_a_400_and_writes_nothing() -> None:
    sandbox = account()
    stock = [{**offer_ref(sandbox, "shop-a"), "stores": [{"code": "main", "available": 7}]}]
    response = send(sandbox, "POST", "/store/inventories/upload", offers=stock, site="nowhere")
    assert response.status_code == 400
    assert response.json() == {"success": False, "errorMsg": 'Site with code "nowhere" not found.'}
    assert sandbox.inventories == {}


def test_prices_upload_with_an_unknown_site_in_an_entry_refuses_the_whole_batch() -> None:
    sandbox = account()
    before = json.dumps(sandbox.prices, sort_keys=True)
    prices = [
        {**offer_ref(sandbox, "shop-a"), "site": "shop-a", "prices": [{"code": "base", "price": 10}]},
        {**offer_ref(sandbox, "shop-b"), "site": "nowhere", "prices": [{"code": "base", "price": 20}]},
    ]
    response = send(sandbox, "POST", "/store/prices/upload", prices=prices)
    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "errorMsg": "Errors in the entity format",
        "errors": {"prices[1].site": 'Site with code "nowhere" not found.'},
    }
    assert json.dumps(sandbox.prices, sort_keys=True) == before


def test_a_site_the_key_does_not_cover_is_access_denied() -> None:
    sandbox = account()
    stock = [{**offer_ref(sandbox, "shop-b"), "stores": [{"code": "main", "available": 1}]}]
    prices = [{**offer_ref(sandbox, "shop-b"), "site": "shop-b", "prices": [{"code": "base", "price": 5}]}]
    for response in (
        send(sandbox, "POST", "/store/inventories/upload", SHOP_KEY, offers=stock, site="shop-b"),
        send(sandbox, "POST", "/store/prices/upload", SHOP_KEY, prices=prices),
    ):
        assert (response.status_code, response.json()) == (403, {"success": False, "errorMsg": "Access denied."})
    assert sandbox.inventories == {}


def test_reads_with_an_unknown_site_are_refused_too_reference_sites_included() -> None:
    sandbox = account()
    for path in ("/reference/sites", "/store/offers", "/orders"):
        response = send(sandbox, "GET", path, site="nowhere")
        assert response.status_code == 400, path
        assert response.json()["errorMsg"] == 'Site with code "nowhere" not found.'
    assert set(send(sandbox, "GET", "/reference/sites", site="shop-b").json()["sites"]) == {"shop-a", "shop-b"}


def test_editing_a_site_is_not_mistaken_for_a_site_parameter() -> None:
    sandbox = account()
    response = send(sandbox, "POST", "/reference/sites/shop-b/edit", site={"ymlUrl": "http://feed/b.xml"})
    assert response.status_code == 200 and sandbox.state.sites["shop-b"]["ymlUrl"] == "http://feed/b.xml"
