"""Sandbox behaviour beyond the happy path: faults, catalog loading on demand and on a timer, serving."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from connectors.http import RetryPolicy, ServerError
from connectors.retailcrm.convert.icml import write_icml
from connectors.retailcrm.sandbox import RetailCRMSandbox
from connectors.retailcrm.sandbox.seed import sample_offers
from connectors.sandboxing import LoopbackServer, free_port
from deployments.service.feed_server import feed_app, feed_url

from .conftest import KEY, MakeClient

REPO = Path(__file__).resolve().parents[3]


def test_server_errors_are_retried_for_reads_but_not_for_plain_creates(
    sandbox: RetailCRMSandbox, make_client: MakeClient
) -> None:
    sandbox.faults.server_errors = 2

    async def read() -> object:
        async with make_client(retry=RetryPolicy(base_delay=0.01)) as c:
            return await c.reference("sites")

    assert "main" in asyncio.run(read())  # type: ignore[operator]
    sandbox.faults.server_errors = 1

    async def create() -> None:
        async with make_client(retry=RetryPolicy(base_delay=0.01)) as c:
            await c.create_order({"items": [{"offer": {"id": 1}, "quantity": 1}]})  # no externalId

    with pytest.raises(ServerError, match="not repeated"):
        asyncio.run(create())
    assert sandbox.log.count(path_prefix="/api/v5/orders/create") == 1


def _feed(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "main.xml"
    write_icml(path, shop_name="s", company="c", categories=[], offers=sample_offers(n))
    return path


def test_catalog_loads_on_demand_and_on_a_timer(tmp_path: Path) -> None:
    path = _feed(tmp_path, 8)
    sandbox = RetailCRMSandbox(
        catalog_transport=httpx.ASGITransport(app=feed_app({"main": path})), catalog_refresh_seconds=3600
    )

    async def go() -> tuple[httpx.Response, int, int]:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=sandbox.app), base_url="http://t", headers={"X-API-KEY": KEY}
        ) as http:
            missing = await http.post("/sandbox/sites/main/load-catalog")
            # the hub points the store at its feed through the API, as an admin would in the UI
            site = json.dumps({"ymlUrl": feed_url("http://feeds.test", "main"), "loadFromYml": True})
            await http.post("/api/v5/reference/sites/main/edit", data={"site": site})
            await http.get("/api/v5/reference/sites")  # the timer fires on traffic
            await asyncio.sleep(0.2)
            by_timer = len(sandbox.offers)
            _feed(tmp_path, 12)
            loaded = await http.post("/sandbox/sites/main/load-catalog")
            assert loaded.status_code == 200, loaded.text
            return missing, by_timer, loaded.json()["offersLoaded"]

    missing, by_timer, on_demand = asyncio.run(go())
    assert missing.status_code == 404
    assert by_timer == 8 and on_demand == 12 and len(sandbox.offers) == 12
    assert sandbox.state.sites["main"]["catalogUpdatedAt"]


def test_serve_prints_url_and_key_and_answers() -> None:
    port = free_port()
    code = f"from connectors.retailcrm.sandbox import RetailCRMSandbox; RetailCRMSandbox().serve({port}, 'cli-key')"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        assert f"http://127.0.0.1:{port}" in lines[0] and "cli-key" in lines[1]
        deadline = time.monotonic() + 15
        while True:
            try:
                url = f"http://127.0.0.1:{port}/api/v5/reference/sites"
                response = httpx.get(url, headers={"X-API-KEY": "cli-key"})
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert response.status_code == 200 and "main" in response.json()["sites"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_admin_path_places_an_order_as_a_manager_and_names_what_is_wrong() -> None:
    """``POST /sandbox/orders/create``: an order as the CRM's UI makes it (history source ``user``, no key)."""
    sb = RetailCRMSandbox(api_key=KEY, sites=("main", "other"))
    sb.seed_catalog(3)
    offer = next(iter(sb.offers.values()))
    with LoopbackServer(sb.app) as server:
        url = f"{server.url}/sandbox/orders/create"
        placed = httpx.post(
            url,
            json={
                "site": "main",
                "order": {"status": "new", "firstName": "Ада", "items": [{"offer": {"xmlId": offer["xmlId"]}}]},
            },
        )
        assert placed.status_code == 201, placed.text
        order_id = placed.json()["id"]
        assert sb.orders[order_id]["site"] == "main" and sb.orders[order_id]["items"][0]["offer"]["id"] == offer["id"]
        record = sb.history[-1].render("order", KEY)
        assert record["created"] and record["source"] == "user" and "apiKey" not in record
        assert httpx.post(url, json={"order": {}}).json()["id"] in sb.orders  # site: the account's first
        wrong = {
            "not json": httpx.post(url, content=b"{", headers={"Content-Type": "application/json"}),
            "no order": httpx.post(url, json={"site": "main"}),
            "site": httpx.post(url, json={"site": "nope", "order": {}}),
            "offer": httpx.post(url, json={"order": {"items": [{"offer": {"id": 999999}}]}}),
        }
    assert {k: r.status_code for k, r in wrong.items()} == dict.fromkeys(wrong, 400)
    assert '{"order": {...}' in wrong["not json"].json()["errorMsg"] and "order" in wrong["no order"].json()["errorMsg"]
    assert "site 'nope' is not one of this account's: main, other" == wrong["site"].json()["errorMsg"]
    assert "Offer with id 999999 not found" in json.dumps(wrong["offer"].json(), ensure_ascii=False)
