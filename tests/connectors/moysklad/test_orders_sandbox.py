"""The MoySklad sandbox keeps customer orders and counterparties by MoySklad's rules, over real HTTP.

Each rule is checked against its source: [GEN] «Назначение поля syncId» (a repeated create answers
the object created before, unchanged), [GEN] bulk create (an array of ≤ 1000, every item the saved
object or its ``errors``; more is 413), [CP] ``phone`` a free string filtered by exact ``=`` (repeated
``=`` ORs), [GEN] timestamps in Moscow time without an offset, [WH] webhook deliveries.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors.moysklad.convert.orders import sync_id_for
from connectors.moysklad.sandbox import API_PREFIX, MoySkladSandbox
from connectors.moysklad.sandbox.generator import seed_catalog
from connectors.moysklad.sandbox.webhooks import USER_AGENT
from connectors.moysklad.wire.moscow_time import parse_moscow
from connectors.sandboxing import LoopbackServer
from tests.connectors.moysklad.conftest import DAY, TOKEN
from tests.connectors.moysklad.spec import SPEC, Exchange, SpecValidator
from tests.shared_apis import require

Json = dict[str, Any]
START = datetime(2026, 11, 22, 9, 30, 0, 123000, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def served(clock: Clock) -> Iterator[tuple[MoySkladSandbox, str]]:
    sb = MoySkladSandbox(token=TOKEN, token_kind="app", today=DAY, clock=clock)
    seed_catalog(sb, 20, seed=5)
    with LoopbackServer(sb.app) as server:
        yield sb, server.url + API_PREFIX


def call(base: str, method: str, path: str, body: Any = None, **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept-Encoding": "gzip"}
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        return client.request(method, path, json=body, params=params or None)


def refs(sb: MoySkladSandbox, base: str) -> tuple[Json, Json, Json]:
    org = next(iter(sb.store.of_type("organization")))
    product = next(iter(sb.store.of_type("product")))

    def ref(path: str, type_: str) -> Json:
        return {"meta": {"href": f"{base}/{path}", "type": type_, "mediaType": "application/json"}}

    agent = call(base, "POST", "/entity/counterparty", {"name": "Покупатель"}).json()
    return (
        ref(f"entity/organization/{org}", "organization"),
        ref(f"entity/counterparty/{agent['id']}", "counterparty"),
        ref(f"entity/product/{product}", "product"),
    )


def test_a_second_create_with_the_same_sync_id_answers_the_first_order_unchanged(
    served: tuple[MoySkladSandbox, str],
) -> None:
    sb, base = served
    org, agent, product = refs(sb, base)
    body = {
        "organization": org,
        "agent": agent,
        "syncId": sync_id_for("shop:1"),
        "externalCode": "1",
        "positions": [{"quantity": 1, "price": 1000.0, "assortment": product}],
    }
    first = call(base, "POST", "/entity/customerorder", body).json()
    changed = {**body, "description": "edited", "positions": [{"quantity": 5, "price": 1000.0, "assortment": product}]}
    again = call(base, "POST", "/entity/customerorder", changed, expand="positions").json()
    in_bulk = call(base, "POST", "/entity/customerorder", [changed]).json()
    assert again["id"] == first["id"] == in_bulk[0]["id"] and len(sb.store.of_type("customerorder")) == 1
    # "в ответ придет ранее созданная сущность": the earlier order, not the new body
    assert "description" not in again and again["positions"]["rows"][0]["quantity"] == 1
    assert again["updated"] == first["updated"]
    # syncId is set once: an update may not change it (1047)
    moved = call(base, "PUT", f"/entity/customerorder/{first['id']}", {"syncId": sync_id_for("shop:2")})
    assert moved.status_code == 412 and moved.json()["errors"][0]["code"] == 1047


def test_bulk_post_answers_every_item_and_refuses_more_than_1000(served: tuple[MoySkladSandbox, str]) -> None:
    require(SPEC)
    sb, base = served
    org, agent, product = refs(sb, base)
    line = {"quantity": 2, "price": 500.0, "assortment": product}
    good = {"organization": org, "agent": agent, "positions": [line]}
    bad_ref = {**good, "agent": {"meta": {**agent["meta"], "href": agent["meta"]["href"][:-4] + "0000"}}}
    items = [{**good, "syncId": sync_id_for("s:1")}, {"agent": agent}, bad_ref, {**good, "syncId": sync_id_for("s:2")}]
    answer = call(base, "POST", "/entity/customerorder", items)
    assert answer.status_code == 200
    body = answer.json()
    assert [("errors" in item) for item in body] == [False, True, True, False]
    assert body[1]["errors"][0]["code"] == 3000 and body[1]["errors"][0]["parameter"] == "organization"
    assert body[2]["errors"][0]["code"] == 1021 and body[2]["errors"][0]["parameter"] == "agent"
    assert len(sb.store.of_type("customerorder")) == 2
    spec = SpecValidator()
    problems = spec.check(Exchange("POST", "/entity/customerorder", items[:1], 200, body[:1]))
    assert problems == []
    # an update by meta rides in the same array
    update = [{"meta": body[0]["meta"], "description": "позвонить"}]
    assert call(base, "POST", "/entity/customerorder", update).json()[0]["description"] == "позвонить"
    too_many = call(base, "POST", "/entity/customerorder", [good] * 1001)
    assert too_many.status_code == 413 and len(sb.store.of_type("customerorder")) == 2


def test_counterparty_filters_match_phone_email_inn_exactly_and_or_repeated_values(
    served: tuple[MoySkladSandbox, str],
) -> None:
    _, base = served
    made = call(
        base,
        "POST",
        "/entity/counterparty",
        [
            {"name": "Иван", "phone": "+79991112233", "email": "ivan@example.ru"},
            {"name": "ООО Радуга", "companyType": "legal", "phone": "+7 495 331 22 33", "inn": "7736207543"},
            {"name": "Пётр", "phone": "+79990000000"},
        ],
    ).json()

    def found(flt: str) -> list[str]:
        return [r["name"] for r in call(base, "GET", "/entity/counterparty", filter=flt).json()["rows"]]

    assert found("phone=+79991112233") == ["Иван"]
    # the stored string is compared as it is: another way of writing the same number finds nothing
    assert found("phone=89991112233") == [] and found("phone=+7 999 111 22 33") == []
    assert found("phone=+74953312233") == [] and found("phone=+7 495 331 22 33") == ["ООО Радуга"]
    assert found("phone=+79991112233;phone=+79990000000;phone=+70000000000") == ["Иван", "Пётр"]
    assert found("email=ivan@example.ru") == ["Иван"] and found("inn=7736207543") == ["ООО Радуга"]
    assert found("phone~9991112") == ["Иван"]  # contains: the like-operator is not exact
    assert len(made) == 3 and all("errors" not in m for m in made)


def test_order_times_are_moscow_time_without_offset(served: tuple[MoySkladSandbox, str], clock: Clock) -> None:
    sb, base = served
    org, agent, _ = refs(sb, base)
    early = call(
        base, "POST", "/entity/customerorder", {"organization": org, "agent": agent, "moment": "2026-11-20 12:00:00"}
    ).json()
    clock.now = START + timedelta(minutes=10)
    late = call(base, "POST", "/entity/customerorder", {"organization": org, "agent": agent}).json()
    assert early["updated"] == "2026-11-22 12:30:00.123" and early["created"] == early["updated"]
    assert early["moment"] == "2026-11-20 12:00:00"
    assert parse_moscow(late["updated"]) == START + timedelta(minutes=10)
    boundary = "2026-11-22 12:35:00"  # Moscow: 09:35 UTC, between the two
    rows = call(base, "GET", "/entity/customerorder", filter=f"updated>={boundary}").json()["rows"]
    assert [r["id"] for r in rows] == [late["id"]]
    assert len(call(base, "GET", "/entity/customerorder", filter="updated>=2026-11-22 12:30").json()["rows"]) == 2


class Receiver:
    """A webhook receiver on loopback: records every POST."""

    def __init__(self) -> None:
        self.posts: list[tuple[dict[str, str], str, Json]] = []
        self.lock = threading.Lock()

        async def hook(request: Request) -> Response:
            with self.lock:
                self.posts.append(
                    (dict(request.query_params), request.headers.get("user-agent", ""), await request.json())
                )
            return Response(status_code=204)

        self.app = Starlette(routes=[Route("/hooks/ms", hook, methods=["POST"])])


def test_customerorder_create_and_update_webhooks_reach_the_receiver(served: tuple[MoySkladSandbox, str]) -> None:
    sb, base = served
    receiver = Receiver()
    with LoopbackServer(receiver.app) as hooks:
        url = f"{hooks.url}/hooks/ms"
        for action, diff in (("CREATE", None), ("UPDATE", "FIELDS")):
            made = call(
                base,
                "POST",
                "/entity/webhook",
                {"url": url, "entityType": "customerorder", "action": action, **({"diffType": diff} if diff else {})},
            )
            assert made.status_code == 200, made.text
        org, agent, _ = refs(sb, base)
        body = {"organization": org, "agent": agent, "syncId": sync_id_for("w:1")}
        order = call(base, "POST", "/entity/customerorder", [body]).json()[0]
        call(base, "POST", "/entity/customerorder", [body])  # the same syncId: nothing changes, nothing is sent
        state = sb.store.states[3]
        call(
            base,
            "PUT",
            f"/entity/customerorder/{order['id']}",
            {
                "state": {
                    "meta": {
                        "href": f"{base}/entity/customerorder/metadata/states/{state['id']}",
                        "type": "state",
                        "mediaType": "application/json",
                    }
                }
            },
        )
        for _ in range(200):
            if len(receiver.posts) >= 2:
                break
            threading.Event().wait(0.02)
    events = [(p[2]["events"][0]["action"], p[2]["events"][0].get("updatedFields")) for p in receiver.posts]
    assert events == [("CREATE", None), ("UPDATE", ["state"])]
    for query, agent_name, delivered in receiver.posts:
        assert agent_name == USER_AGENT and len(query["requestId"]) == 36
        href = f"{base}/entity/customerorder/{order['id']}"
        assert delivered["events"][0]["meta"] == {"type": "customerorder", "href": href}
        assert parse_moscow(delivered["auditContext"]["moment"]) == START
