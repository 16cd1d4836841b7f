"""Webhooks: created idempotently, foreign ones never deleted, delivered and retried like MoySklad."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors.moysklad.client import MoySkladClient
from connectors.moysklad.sandbox import MoySkladSandbox
from tests.connectors.moysklad.conftest import raw_client, run

HUB = "https://hub.example/webhooks/moysklad"


class Receiver:
    """An in-process webhook receiver that fails the first ``failures`` calls (or sleeps)."""

    def __init__(self, failures: int = 0, delay: float = 0.0) -> None:
        self.failures, self.delay = failures, delay
        self.calls: list[tuple[str, dict[str, Any], str]] = []
        self.app = Starlette(routes=[Route("/{p:path}", self.handle, methods=["POST"])])

    async def handle(self, request: Request) -> Response:
        self.calls.append(
            (request.query_params.get("requestId", ""), await request.json(), request.headers.get("user-agent", ""))
        )
        if self.delay:
            delay, self.delay = self.delay, 0.0
            await asyncio.sleep(delay)
        if self.failures > 0:
            self.failures -= 1
            return Response(status_code=500)
        return Response(status_code=200)


def test_ensure_is_idempotent_and_only_own_webhooks_are_deleted(
    sandbox: MoySkladSandbox, make_client: Callable[..., MoySkladClient]
) -> None:
    async def go() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], int]:
        async with raw_client(sandbox) as c:  # another app's webhook on the same account
            await c.post(
                "/entity/webhook", json={"url": "https://other.app/hook", "action": "CREATE", "entityType": "product"}
            )
        async with make_client() as ms:
            first = await ms.ensure_webhook(f"{HUB}/orders", "customerorder", "UPDATE", diff_type="FIELDS")
            second = await ms.ensure_webhook(f"{HUB}/orders", "customerorder", "UPDATE", diff_type="FIELDS")
            stock = await ms.ensure_webhookstock(f"{HUB}/stock", "bystore")
            await ms.ensure_webhookstock(f"{HUB}/stock", "bystore")
            deleted = await ms.delete_own_webhooks(HUB)
            return first, second, stock, deleted

    first, second, stock, deleted = run(go())
    assert first["id"] == second["id"]
    assert stock["reportType"] == "bystore"
    assert deleted == 2
    assert [w["url"] for w in sandbox.store.of_type("webhook").values()] == ["https://other.app/hook"]
    assert not sandbox.store.of_type("webhookstock")


def test_delivery_retries_three_times_with_the_same_request_id_then_drops(sandbox: MoySkladSandbox) -> None:
    flaky, dead = Receiver(failures=2), Receiver(failures=10)
    routes = {"flaky.test": flaky.app, "dead.test": dead.app}

    async def route(scope: Any, receive: Any, send: Any) -> None:
        host = dict(scope["headers"])[b"host"].decode()
        await routes[host](scope, receive, send)

    sandbox.webhooks.transport = httpx.ASGITransport(app=route)

    async def go() -> None:
        async with raw_client(sandbox) as c:
            for url in ("http://flaky.test/h", "http://dead.test/h"):
                await c.post("/entity/webhook", json={"url": url, "action": "CREATE", "entityType": "counterparty"})
        sandbox.token_kind = "user"  # a user may have several URLs per (entityType, action)
        async with raw_client(sandbox) as c:
            await c.post("/entity/counterparty", json={"name": "Новый клиент"})
        await sandbox.webhooks.drain()

    sandbox.token_kind = "user"
    run(go())
    assert len(flaky.calls) == 3 and len({c[0] for c in flaky.calls}) == 1
    event = flaky.calls[0][1]["events"][0]
    assert event["action"] == "CREATE" and event["meta"]["type"] == "counterparty"
    assert event["meta"]["href"].startswith("http://moysklad.sandbox/api/remap/1.2/entity/counterparty/")
    assert flaky.calls[0][2].startswith("MoySklad webhook touch agent")
    assert len(dead.calls) == 4 and len(sandbox.webhooks.dropped) == 1


def test_a_receiver_slower_than_1_5_s_counts_as_a_failure(sandbox: MoySkladSandbox) -> None:
    slow = Receiver(delay=1.6)
    sandbox.webhooks.transport = httpx.ASGITransport(app=slow.app)

    async def go() -> None:
        async with raw_client(sandbox) as c:
            await c.post(
                "/entity/webhook", json={"url": "http://slow.test/h", "action": "CREATE", "entityType": "counterparty"}
            )
            await c.post("/entity/counterparty", json={"name": "Медленный"})
        await sandbox.webhooks.drain()

    run(go())
    attempts = [d.error or d.status for d in sandbox.webhooks.deliveries]
    assert attempts == ["TimeoutError", 200]


def test_webhookstock_posts_a_report_url_only_when_stock_changed(
    sandbox: MoySkladSandbox, make_client: Callable[..., MoySkladClient]
) -> None:
    receiver = Receiver()
    sandbox.webhooks.transport = httpx.ASGITransport(app=receiver.app)
    store = next(iter(sandbox.store.of_type("store")))
    org = next(iter(sandbox.store.of_type("organization")))
    product = next(iter(sandbox.store.of_type("product")))

    async def go() -> tuple[int, int, list[dict[str, Any]]]:
        async with make_client() as ms:
            await ms.ensure_webhookstock("http://hub.test/stock", "bystore")
            first = sandbox.webhooks.send_stock_notifications()  # seeded stock counts as a change
            await sandbox.webhooks.drain()
            idle = sandbox.webhooks.send_stock_notifications()
            agent = (await ms.create_counterparty({"name": "X"}))["id"]
            await ms.create_demand(
                {
                    "organization": ms.ref(f"entity/organization/{org}", "organization"),
                    "agent": ms.ref(f"entity/counterparty/{agent}", "counterparty"),
                    "store": ms.ref(f"entity/store/{store}", "store"),
                    "positions": [
                        {"quantity": 1, "price": 1.0, "assortment": ms.ref(f"entity/product/{product}", "product")}
                    ],
                }
            )
            sandbox.webhooks.send_stock_notifications()
            await sandbox.webhooks.drain()
            report_url = receiver.calls[-1][1]["reportUrl"]
            rows = (await ms.request("GET", report_url)).json()
            return first, idle, rows

    first, idle, rows = run(go())
    assert (first, idle) == (1, 0)
    body = receiver.calls[-1][1]
    assert body["reportType"] == "bystore" and body["stockType"] == "stock"
    assert "/report/stock/bystore/current?changedSince=" in body["reportUrl"]
    assert {r["assortmentId"] for r in rows} == {product}
