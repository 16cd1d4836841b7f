"""The stock webhook receiver: strangers learn nothing, a burst costs two cycles, nothing is lost on restart."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from connectors.moysklad.capabilities.catalog import MoySkladSide
from connectors.moysklad.capabilities.stock_events import ENTITY_EVENTS, WANTED, MoySkladStockEvents
from connectors.moysklad.client import MoySkladClient
from connectors.moysklad.sandbox import API_PREFIX, MoySkladSandbox
from connectors.moysklad.sandbox.generator import seed_catalog
from deployments.service.webhooks import Receiver, WebhookSetupError, hook_url, masked, webhook_app
from hub.config import load_config
from hub.store import open_store

TOKEN = "wh-token-of-the-shop-0123456789"
MS_TOKEN = "ms-sandbox-token"
BASE = "http://hub.test"
STOCK_BODY = {
    "accountId": "a",
    "stockType": "stock",
    "reportType": "bystore",
    "reportUrl": "https://api.moysklad.ru/api/remap/1.2/report/stock/bystore/current?changedSince=2026-11-22 10:00:00",
}
CONFIG = """
database_url: sqlite:///{tmp}/hub.db
integrations:
  shop:
    systems:
      ms:  {{system: moysklad, base_url: "http://ms.test/api/remap/1.2", token: "${{WH_TEST_MS_TOKEN}}",
             token_kind: app}}
      crm: {{system: retailcrm, base_url: "http://127.0.0.1:1", api_key: "${{WH_TEST_CRM_KEY}}"}}
    flows:
      stock: {{from: ms, to: crm}}
    options:
      stock: {{webhook_secret: "${{WH_TEST_TOKEN}}"}}
  quiet:
    systems:
      ms:  {{system: moysklad, base_url: "http://ms.test/api/remap/1.2", token: "${{WH_TEST_MS_TOKEN}}"}}
      crm: {{system: retailcrm, base_url: "http://127.0.0.1:1", api_key: "${{WH_TEST_CRM_KEY}}"}}
    flows:
      stock: {{from: ms, to: crm}}
"""


class Cycles:
    """A stand-in stock cycle: counts calls, may block until released (to see answers come first)."""

    def __init__(self, block: bool = False, result: object = None) -> None:
        self.calls: list[tuple[str, datetime | None]] = []
        self.release = threading.Event()
        self.result = result
        if not block:
            self.release.set()

    def __call__(self, integration: str, noticed_at: datetime | None) -> object:
        self.calls.append((integration, noticed_at))
        self.release.wait(10)
        return self.result


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WH_TEST_MS_TOKEN", MS_TOKEN)
    monkeypatch.setenv("WH_TEST_CRM_KEY", "crm-key")
    monkeypatch.setenv("WH_TEST_TOKEN", TOKEN)
    path = tmp_path / "skladbridge.yaml"
    path.write_text(CONFIG.format(tmp=tmp_path), encoding="utf-8")
    return path


@pytest.fixture
def receiving(config: Path) -> Iterator[Callable[..., tuple[Starlette, Receiver]]]:
    made: list[Receiver] = []

    def make(cycles: Cycles | None = None, **kw: Any) -> tuple[Starlette, Receiver]:
        app = webhook_app(config, cycles or Cycles(), **kw)
        made.append(app.state.receiver)
        return app, app.state.receiver

    yield make
    for receiver in made:
        receiver.close()


def post(app: Starlette, path: str, body: bytes | dict[str, Any], request_id: str | None = "req-1") -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
            content = body if isinstance(body, bytes) else json.dumps(body).encode()
            params = {"requestId": request_id} if request_id else {}
            # MoySklad posts JSON and says so
            return await client.post(path, content=content, params=params, headers={"Content-Type": "application/json"})

    return asyncio.run(go())


def test_strangers_get_one_bare_404_and_leave_no_trace(
    receiving: Callable[..., tuple[Starlette, Receiver]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app, receiver = receiving()
    refused = [
        post(app, f"/hooks/moysklad/shop/{TOKEN[:-1]}x", STOCK_BODY),  # wrong token
        post(app, f"/hooks/moysklad/shop/{TOKEN}0", STOCK_BODY),  # longer
        post(app, f"/hooks/moysklad/nobody/{TOKEN}", STOCK_BODY),  # unknown integration
        post(app, f"/hooks/retailcrm/shop/{TOKEN}", STOCK_BODY),  # not its stock source
        post(app, f"/hooks/moysklad/quiet/{TOKEN}", STOCK_BODY),  # takes no webhooks
        post(app, f"/hooks/moysklad/shop/{TOKEN}/more", STOCK_BODY),
        post(app, "/hooks/moysklad/shop", STOCK_BODY),
    ]

    async def get() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
            return await client.get(f"/hooks/moysklad/shop/{TOKEN}")

    refused.append(asyncio.run(get()))
    assert {(r.status_code, r.text) for r in refused} == {(404, "not found\n")}
    assert receiver.store.notices.integrations_pending() == []
    assert receiver.store.journal.list() == []
    assert receiver.trigger.cycles("shop") == 0
    assert TOKEN not in caplog.text


def test_a_notice_is_answered_before_its_cycle_runs_and_done_after_it(
    receiving: Callable[..., tuple[Starlette, Receiver]],
) -> None:
    cycles = Cycles(block=True)
    app, receiver = receiving(cycles)
    answer = post(app, f"/hooks/moysklad/shop/{TOKEN}", STOCK_BODY)
    assert answer.status_code == 204  # while the cycle it asked for is still blocked
    [pending] = receiver.store.notices.pending("shop")
    assert (pending.delivery_id, pending.kind) == ("req-1", "stock")
    cycles.release.set()
    assert receiver.trigger.wait_idle(10)
    assert cycles.calls == [("shop", pending.received_at)]
    assert receiver.store.notices.pending("shop") == []


def test_100_duplicated_and_reordered_deliveries_are_kept_once_and_cost_at_most_two_cycles(
    receiving: Callable[..., tuple[Starlette, Receiver]],
) -> None:
    cycles = Cycles(block=True)
    app, receiver = receiving(cycles)
    ids = [f"req-{i % 40}" for i in range(100)]  # 40 deliveries, most of them retried
    random.Random(11).shuffle(ids)

    async def burst() -> list[int]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
            answers = await asyncio.gather(
                *(
                    client.post(f"/hooks/moysklad/shop/{TOKEN}", params={"requestId": rid}, json=STOCK_BODY)
                    for rid in ids
                )
            )
            return [a.status_code for a in answers]

    assert set(asyncio.run(burst())) == {204}
    cycles.release.set()
    assert receiver.trigger.wait_idle(10)
    assert 1 <= len(cycles.calls) <= 2
    assert receiver.store.notices.pending("shop") == []
    with receiver.store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM stock_notices").scalar() == 40


async def in_pieces(body: bytes) -> AsyncIterator[bytes]:
    """A body sent chunked, with no Content-Length to refuse it by."""
    for start in range(0, len(body), 8192):
        yield body[start : start + 8192]


@pytest.mark.parametrize(
    ("body", "chunked", "status", "journaled"),
    [
        (b"x" * 70_000, False, 413, "over 65536 bytes"),
        (b"x" * 70_000, True, 413, "over 65536 bytes"),
        (b"{broken", False, 400, "not JSON"),
        (
            json.dumps({"events": [{"meta": {"type": "product"}, "action": "UPDATE"}]}).encode(),
            False,
            400,
            "does not move stock",
        ),
    ],
    ids=["oversize", "oversize chunked", "not json", "another entity"],
)
def test_an_oversize_or_malformed_notice_gets_a_4xx_and_a_journal_entry(
    receiving: Callable[..., tuple[Starlette, Receiver]], body: bytes, chunked: bool, status: int, journaled: str
) -> None:
    app, receiver = receiving(max_body=64 * 1024)

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
            return await client.post(
                f"/hooks/moysklad/shop/{TOKEN}",
                params={"requestId": "r"},
                content=in_pieces(body) if chunked else body,
                headers={"Content-Type": "application/json"},
            )

    answer = asyncio.run(go())
    assert answer.status_code == status
    [entry] = receiver.store.journal.list(integration="shop")
    assert entry.level == "warning" and journaled in entry.message and TOKEN not in entry.message
    assert receiver.store.notices.pending("shop") == [] and receiver.trigger.cycles("shop") == 0


def test_a_deeply_nested_body_gets_a_400_and_a_journal_entry_and_the_receiver_goes_on(
    receiving: Callable[..., tuple[Starlette, Receiver]],
) -> None:
    app, receiver = receiving()
    nested = b"[" * 5 * 1024  # 5 KB: json's recursion gives up long before the size limit
    answer = post(app, f"/hooks/moysklad/shop/{TOKEN}", nested, request_id="deep")
    assert (answer.status_code, answer.text) == (
        400,
        "a malformed moysklad notice was refused: the body is nested too deeply to be a notice\n",
    )
    [entry] = receiver.store.journal.list(integration="shop")
    assert entry.level == "warning" and "nested too deeply" in entry.message
    assert receiver.store.notices.pending("shop") == []
    # the same app still takes the next notice
    assert post(app, f"/hooks/moysklad/shop/{TOKEN}", STOCK_BODY, request_id="next").status_code == 204


@pytest.mark.parametrize(
    ("headers", "body", "shown"),
    [
        ({"Content-Type": "text/plain"}, json.dumps(STOCK_BODY).encode(), "'text/plain'"),
        ({"Content-Type": "application/x-www-form-urlencoded"}, b"reportUrl=x", "'application/x-www-form-urlencoded'"),
        ({}, json.dumps(STOCK_BODY).encode(), "none"),
    ],
    ids=["text", "form", "no content type"],
)
def test_a_body_that_is_not_json_by_its_content_type_gets_a_415_and_a_journal_entry(
    receiving: Callable[..., tuple[Starlette, Receiver]], headers: dict[str, str], body: bytes, shown: str
) -> None:
    app, receiver = receiving()

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
            return await client.post(
                f"/hooks/moysklad/shop/{TOKEN}", params={"requestId": "r"}, content=body, headers=headers
            )

    answer = asyncio.run(go())
    assert answer.status_code == 415
    [entry] = receiver.store.journal.list(integration="shop")
    assert f"Content-Type {shown} was refused" in entry.message and TOKEN not in entry.message
    assert receiver.store.notices.pending("shop") == [] and receiver.trigger.cycles("shop") == 0
    # JSON with a charset, as some senders label it, is JSON
    headers = {"Content-Type": "application/json; charset=utf-8"}
    body = json.dumps(STOCK_BODY).encode()
    assert asyncio.run(go()).status_code == 204


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_near_miss_paths_get_the_same_bare_404_and_never_a_redirect(
    receiving: Callable[..., tuple[Starlette, Receiver]], method: str
) -> None:
    app, receiver = receiving()
    paths = [
        f"/hooks/moysklad/shop/{TOKEN}/",
        f"/hooks/moysklad/shop/{TOKEN}//",
        f"/hooks/moysklad/shop//{TOKEN}",
        "/hooks/moysklad/shop/",
        "/hooks/moysklad/shop",
        "/hooks/moysklad/",
        "/hooks/",
        "/hooks",
        "/hooksx",
        f"/hooks/moysklad/nobody/{TOKEN}/",
        f"/hooks/moysklad/shop/{TOKEN}x/",
        "/",
        "/feeds/",
    ]

    async def go() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
            return [await client.request(method, path, params={"requestId": "r"}, json=STOCK_BODY) for path in paths]

    answers = asyncio.run(go())
    assert [(a.status_code, a.text, a.headers.get("location")) for a in answers] == [(404, "not found\n", None)] * len(
        paths
    )
    assert receiver.store.journal.list() == [] and receiver.store.notices.integrations_pending() == []


def test_a_delivery_without_request_id_is_refused(receiving: Callable[..., tuple[Starlette, Receiver]]) -> None:
    app, receiver = receiving()
    assert post(app, f"/hooks/moysklad/shop/{TOKEN}", STOCK_BODY, request_id=None).status_code == 400
    assert "no requestId" in receiver.store.journal.list()[0].message


def test_a_receiver_started_again_carries_what_the_last_one_left_pending(
    config: Path, receiving: Callable[..., tuple[Starlette, Receiver]]
) -> None:
    skipped = Cycles(result={"skipped": "another run is sending stock"})  # e.g. the lock was taken
    first, receiver = receiving(skipped)
    for rid in ("a", "b"):
        post(first, f"/hooks/moysklad/shop/{TOKEN}", STOCK_BODY, request_id=rid)
    assert receiver.trigger.wait_idle(10)
    receiver.close()  # killed mid-burst: no cycle carried the notices
    assert len(skipped.calls) >= 1
    store = open_store(load_config(config).effective_database_url())
    assert [n.delivery_id for n in store.notices.pending("shop")] == ["a", "b"]
    store.close()

    again = Cycles()
    second, restarted = receiving(again)

    async def serve_briefly() -> None:
        async with second.router.lifespan_context(second):  # startup replays the pending integrations
            await asyncio.to_thread(restarted.trigger.wait_idle, 10)

    asyncio.run(serve_briefly())
    assert [name for name, _ in again.calls] == ["shop"]
    assert restarted.store.notices.integrations_pending() == []


def test_a_failed_cycle_is_asked_for_again_after_a_backoff(
    receiving: Callable[..., tuple[Starlette, Receiver]],
) -> None:
    outcomes = iter([RuntimeError("retailCRM did not answer"), None])

    def flaky(integration: str, noticed_at: datetime | None) -> object:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    app, receiver = receiving(flaky, retry_after=0.05)
    post(app, f"/hooks/moysklad/shop/{TOKEN}", STOCK_BODY)
    for _ in range(200):
        if receiver.store.notices.integrations_pending() == []:
            break
        threading.Event().wait(0.02)
    assert receiver.trigger.cycles("shop") == 2
    assert receiver.store.notices.integrations_pending() == []


def test_a_short_or_misplaced_token_is_refused_in_one_line(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WH_TEST_TOKEN", "short")
    with pytest.raises(WebhookSetupError, match="at least 16 characters"):
        webhook_app(config, Cycles())
    monkeypatch.setenv("WH_TEST_TOKEN", "a/b" * 10)
    with pytest.raises(WebhookSetupError, match="A-Z a-z 0-9 _ -"):
        webhook_app(config, Cycles())


def test_urls_shown_never_carry_the_token() -> None:
    url = hook_url("https://hub.example/", "moysklad", "shop", TOKEN)
    assert url == f"https://hub.example/hooks/moysklad/shop/{TOKEN}"
    assert masked(url + "?requestId=1") == "https://hub.example/hooks/moysklad/shop/<token>?requestId=1"


# -- the MoySklad sandbox delivering, as MoySklad does ------------------------------------------------


def test_the_sandbox_delivers_webhooks_and_stock_notices_through_the_receiver(
    receiving: Callable[..., tuple[Starlette, Receiver]],
) -> None:
    cycles = Cycles()
    app, receiver = receiving(cycles)
    sandbox = MoySkladSandbox(token=MS_TOKEN, token_kind="app")
    seed_catalog(sandbox, 10, seed=3)
    first_answer_lost = {"left": 1}

    async def lossy(scope: Any, receive: Any, send: Any) -> None:
        # the receiver records the first delivery but its answer never reaches MoySklad: it retries
        if first_answer_lost["left"]:
            first_answer_lost["left"] -= 1
            await app(scope, receive, lambda message: asyncio.sleep(0))
            raise httpx.ReadError("connection reset")
        await app(scope, receive, send)

    sandbox.webhooks.transport = httpx.ASGITransport(app=lossy)
    url = hook_url(BASE, "moysklad", "shop", TOKEN)
    store_id = next(iter(sandbox.store.of_type("store")))
    org = next(iter(sandbox.store.of_type("organization")))
    product = next(iter(sandbox.store.of_type("product")))

    async def go() -> list[str]:
        ms = MoySkladClient(
            "http://ms.test" + API_PREFIX,
            token=MS_TOKEN,
            token_kind="app",
            transport=httpx.ASGITransport(app=sandbox.app),
        )
        async with ms:
            done = await MoySkladStockEvents(ms).subscribe(url, ours=hook_url(BASE, "moysklad", "shop", ""))
            agent = (await ms.create_counterparty({"name": "Покупатель"}))["id"]
            await ms.create_demand(
                {
                    "organization": ms.ref(f"entity/organization/{org}", "organization"),
                    "agent": ms.ref(f"entity/counterparty/{agent}", "counterparty"),
                    "store": ms.ref(f"entity/store/{store_id}", "store"),
                    "positions": [
                        {"quantity": 2, "price": 100.0, "assortment": ms.ref(f"entity/product/{product}", "product")}
                    ],
                }
            )
            await sandbox.webhooks.drain()
            sandbox.webhooks.send_stock_notifications()
            await sandbox.webhooks.drain()
        return done

    assert len(asyncio.run(go())) == 25
    assert receiver.trigger.wait_idle(10)
    attempts = [(d.request_id, d.status) for d in sandbox.webhooks.deliveries]
    assert [status for _, status in attempts] == [None, 204, 204]  # the lost answer, its retry, the stock notice
    assert attempts[0][0] == attempts[1][0]
    with receiver.store.engine.connect() as conn:
        kinds = conn.exec_driver_sql("SELECT kind, done_at IS NOT NULL FROM stock_notices ORDER BY id").all()
    assert [tuple(k) for k in kinds] == [("demand", 1), ("stock", 1)]
    assert 1 <= len(cycles.calls) <= 2 and not sandbox.webhooks.dropped


def test_returns_reach_the_receiver_and_the_cycle_they_start_reads_the_stock_they_moved(
    receiving: Callable[..., tuple[Starlette, Receiver]],
) -> None:
    sandbox = MoySkladSandbox(token=MS_TOKEN, token_kind="app")
    seed_catalog(sandbox, 10, seed=3)
    row = next(
        r
        for r in sandbox.ledger.report(by_store=True, stock_type="stock", include_zero=False)
        if float(r["stock"]) >= 1 and r.get("storeId")
    )
    product, store_id, before = str(row["assortmentId"]), str(row["storeId"]), float(row["stock"])
    org = next(iter(sandbox.store.of_type("organization")))
    cursor = sandbox.store.now() - timedelta(seconds=2)  # the stock cycle's own cursor: its last read
    reads: list[float] = []

    def reading_cycle(integration: str, noticed_at: datetime | None) -> object:
        # what a stock cycle does first: read the stock changed since its cursor, from the source
        async def read() -> float:
            ms = MoySkladClient(
                "http://ms.test" + API_PREFIX,
                token=MS_TOKEN,
                token_kind="app",
                transport=httpx.ASGITransport(app=sandbox.app),
            )
            async with ms:
                frame = await MoySkladSide(ms).current_stock("stock", cursor)
            mine = frame[(frame["offer_id"] == product) & (frame["store_id"] == store_id)]
            return float(mine["available"].iloc[0])

        reads.append(asyncio.run(read()))
        return None

    app, receiver = receiving(reading_cycle)
    sandbox.webhooks.transport = httpx.ASGITransport(app=app)

    async def go() -> None:
        ms = MoySkladClient(
            "http://ms.test" + API_PREFIX,
            token=MS_TOKEN,
            token_kind="app",
            transport=httpx.ASGITransport(app=sandbox.app),
        )
        async with ms:
            await MoySkladStockEvents(ms).subscribe(
                hook_url(BASE, "moysklad", "shop", TOKEN), ours=hook_url(BASE, "moysklad", "shop", "")
            )
            agent = (await ms.create_counterparty({"name": "Покупатель"}))["id"]
            refs = {
                "organization": ms.ref(f"entity/organization/{org}", "organization"),
                "agent": ms.ref(f"entity/counterparty/{agent}", "counterparty"),
                "store": ms.ref(f"entity/store/{store_id}", "store"),
            }

            def lines(quantity: float) -> list[dict[str, Any]]:
                return [
                    {"quantity": quantity, "price": 100.0, "assortment": ms.ref(f"entity/product/{product}", "product")}
                ]

            await ms.create_salesreturn({**refs, "positions": lines(3)})  # the customer brings 3 back
            await sandbox.webhooks.drain()
            assert await asyncio.to_thread(receiver.trigger.wait_idle, 10)
            await ms.create_purchasereturn({**refs, "positions": lines(1)})  # 1 back to the supplier
            await sandbox.webhooks.drain()

    asyncio.run(go())
    assert receiver.trigger.wait_idle(10)
    assert [d.status for d in sandbox.webhooks.deliveries] == [204, 204] and not sandbox.webhooks.dropped
    with receiver.store.engine.connect() as conn:
        kinds = conn.exec_driver_sql("SELECT kind, done_at IS NOT NULL FROM stock_notices ORDER BY id").all()
    assert [tuple(k) for k in kinds] == [("salesreturn", 1), ("purchasereturn", 1)]
    assert reads == [before + 3, before + 2]  # each return's own cycle saw the stock it moved


def test_every_subscribed_document_change_is_emitted_and_taken(
    receiving: Callable[..., tuple[Starlette, Receiver]],
) -> None:
    app, receiver = receiving()
    sandbox = MoySkladSandbox(token=MS_TOKEN, token_kind="user")
    seed_catalog(sandbox, 5, seed=3)
    sandbox.webhooks.transport = httpx.ASGITransport(app=app)
    url = hook_url(BASE, "moysklad", "shop", TOKEN)
    for want in WANTED:  # what `webhooks register` subscribes, set in place (no requests spent)
        sandbox.writer.create(want.kind, {**dict(want.fields), "url": url})
    org, store = next(iter(sandbox.store.of_type("organization"))), next(iter(sandbox.store.of_type("store")))
    product = next(iter(sandbox.store.of_type("product")))

    async def go() -> None:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=sandbox.app),
            base_url="http://ms.test" + API_PREFIX,
            headers={"Authorization": f"Bearer {MS_TOKEN}"},
        ) as ms:

            def ref(kind: str, id_: str) -> dict[str, Any]:
                return {"meta": {"href": f"http://ms.test{API_PREFIX}/entity/{kind}/{id_}", "type": kind}}

            async def call(method: str, path: str, **kw: Any) -> httpx.Response:
                while True:  # as a MoySklad client must: wait out the rate limit's 429
                    answer = await ms.request(method, path, **kw)
                    if answer.status_code != 429:
                        return answer
                    await asyncio.sleep(int(answer.headers.get("X-Lognex-Retry-After", "200")) / 1000)

            agent = (await call("POST", "/entity/counterparty", json={"name": "Контрагент"})).json()["id"]
            body = {
                "organization": ref("organization", org),
                "agent": ref("counterparty", agent),
                "store": ref("store", store),
                "sourceStore": ref("store", store),
                "targetStore": ref("store", store),
                "positions": [{"quantity": 1, "price": 10.0, "assortment": ref("product", product)}],
            }
            for entity in sorted({entity for entity, _ in ENTITY_EVENTS}):
                made = await call("POST", f"/entity/{entity}", json=body)
                assert made.status_code == 200, (entity, made.text)
                doc = made.json()["id"]
                edited = await call("PUT", f"/entity/{entity}/{doc}", json={"description": "edited"})
                assert edited.status_code == 200, (entity, edited.text)
                assert (await call("DELETE", f"/entity/{entity}/{doc}")).status_code == 200
            await sandbox.webhooks.drain()

    asyncio.run(go())
    assert receiver.trigger.wait_idle(10)
    assert {d.status for d in sandbox.webhooks.deliveries} == {204} and not sandbox.webhooks.dropped
    emitted = {
        (d.body["events"][0]["meta"]["type"], d.body["events"][0]["action"]) for d in sandbox.webhooks.deliveries
    }
    assert emitted == set(ENTITY_EVENTS)
    with receiver.store.engine.connect() as conn:
        kinds = {row[0] for row in conn.exec_driver_sql("SELECT kind FROM stock_notices").all()}
    assert kinds == {entity for entity, _ in ENTITY_EVENTS}


def order_body(entity: str = "customerorder", action: str = "UPDATE") -> dict[str, Any]:
    href = f"https://api.moysklad.ru/api/remap/1.2/entity/{entity}/5427bc76-b95f-11eb-0a80-04bb000cd583"
    return {
        "auditContext": {
            "meta": {"type": "audit", "href": "https://api.moysklad.ru/api/remap/1.2/audit/x"},
            "uid": "admin@shop",
            "moment": "2026-11-22 10:00:00",
        },
        "events": [
            {"meta": {"type": entity, "href": href}, "action": action, "accountId": "a", "updatedFields": ["state"]}
        ],
    }


def test_a_changed_order_also_starts_a_status_sync_where_states_go_back(
    config: Path, receiving: Callable[..., tuple[Starlette, Receiver]]
) -> None:
    text = config.read_text(encoding="utf-8").replace(
        "      stock: {from: ms, to: crm}\n    options:",
        "      stock: {from: ms, to: crm}\n      statuses: {from: ms, to: crm}\n    options:",
        1,
    )
    config.write_text(text, encoding="utf-8")
    statuses: list[str] = []
    app, receiver = receiving(run_status_cycle=lambda name: statuses.append(name))
    assert post(app, f"/hooks/moysklad/shop/{TOKEN}", order_body("demand", "CREATE"), "req-d").status_code == 204
    assert post(app, f"/hooks/moysklad/shop/{TOKEN}", order_body(), "req-o").status_code == 204
    assert post(app, f"/hooks/moysklad/shop/{TOKEN}", order_body(), "req-o").status_code == 204  # a retry
    assert receiver.trigger.wait_idle(10) and receiver.status_trigger.wait_idle(10)
    assert statuses == ["shop"]  # the order's notice, once; the shipment's started none
    assert 1 <= receiver.trigger.cycles("shop") <= 2  # the stock cycle as before (reserves move stock)


def test_without_states_going_back_an_order_notice_starts_no_status_sync(
    receiving: Callable[..., tuple[Starlette, Receiver]],
) -> None:
    statuses: list[str] = []
    app, receiver = receiving(run_status_cycle=lambda name: statuses.append(name))
    assert post(app, f"/hooks/moysklad/shop/{TOKEN}", order_body(), "req-o").status_code == 204
    assert receiver.trigger.wait_idle(10) and receiver.status_trigger.wait_idle(10)
    assert statuses == [] and receiver.trigger.cycles("shop") == 1
