"""A new emulator is only its API's rules: auth, rate gate, faults, dropped writes and the log come free.

``LavkaSandbox`` emulates a made-up API (a Bearer token, or ``?token=``; 3 requests a minute per
token; items to list and create) in a few dozen lines on :class:`SandboxFrontDoor`. The tests
below check that it refuses strangers, meters callers, injects every fault of the plan, can lose
the answer to a committed write and logs every request without the secret — none of which it wrote.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from starlette.requests import Request

from connectors.sandboxing import (
    ApiRefusal,
    DroppedResponse,
    FaultPlan,
    Reply,
    RouteTable,
    SandboxFrontDoor,
    Visit,
    WindowQuota,
    bearer_token,
    credential_digest,
)

TOKEN = "lavka-secret-token"


class LavkaSandbox(SandboxFrontDoor):
    """The whole emulator: its credential rule, its quota, its route table and its state."""

    secret_params = ("token",)

    def __init__(self, per_minute: int = 3) -> None:
        super().__init__("/api/v1")
        self.quota = WindowQuota(per_minute, 60)
        self.items: list[dict[str, Any]] = []
        self.routes = RouteTable([("GET", r"/items", self.list_items, False), ("POST", r"/items", self.add_item, True)])

    async def authenticate(self, visit: Visit) -> None:
        visit.secret = bearer_token(visit.request) or visit.request.query_params.get("token", "")
        if visit.secret != TOKEN:
            raise ApiRefusal(401, "Unauthenticated.")
        visit.credential = credential_digest(visit.secret)

    async def route(self, visit: Visit) -> Reply:
        found = self.routes.find(visit.request.method, visit.path)
        if found is None:
            raise ApiRefusal(405 if self.routes.knows(visit.path) else 404, "No such method.")
        route, _ = found
        status, payload = await route.handler(visit.request)
        return Reply(status, payload, wrote=route.writes)

    async def list_items(self, request: Request) -> tuple[int, Any]:
        return 200, {"data": self.items, "total": len(self.items)}

    async def add_item(self, request: Request) -> tuple[int, Any]:
        self.items.append({"id": len(self.items) + 1, **await request.json()})
        return 201, self.items[-1]


def call(sandbox: LavkaSandbox, method: str, path: str, token: str = TOKEN, **kwargs: Any) -> httpx.Response:
    """One request to the sandbox in-process."""

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=sandbox.app),
            base_url="http://lavka",
            headers={"Authorization": f"Bearer {token}"},
        ) as client:
            return await client.request(method, "/api/v1" + path, **kwargs)

    return asyncio.run(go())


def test_a_stranger_is_refused_with_the_apis_error_and_never_reaches_a_handler() -> None:
    sandbox = LavkaSandbox()
    response = call(sandbox, "POST", "/items", token="guess", json={"name": "tea"})
    assert (response.status_code, response.json()) == (401, {"error": "Unauthenticated."})
    assert sandbox.items == []
    assert call(sandbox, "DELETE", "/items").status_code == 405
    assert call(sandbox, "GET", "/nothing").status_code == 404


def test_the_quota_refuses_the_fourth_request_of_a_minute_with_retry_after() -> None:
    sandbox = LavkaSandbox(per_minute=3)
    statuses = [call(sandbox, "GET", "/items").status_code for _ in range(3)]
    refused = call(sandbox, "GET", "/items")
    assert statuses == [200, 200, 200]
    assert refused.status_code == 429 and 55 <= int(refused.headers["retry-after"]) <= 60
    assert sandbox.log.count(status=429) == 1


def test_every_fault_of_the_plan_fires_once_where_the_real_system_would_fail() -> None:
    sandbox = LavkaSandbox(per_minute=100)
    for name in "abcd":
        call(sandbox, "POST", "/items", json={"name": name})
    sandbox.faults.rate_limit_burst, sandbox.faults.server_errors, sandbox.faults.partial_pages = 1, 1, 1
    burst, fault, cut, whole = (call(sandbox, "GET", "/items") for _ in range(4))
    assert burst.status_code == 429
    assert (fault.status_code, fault.json()) == (500, {"error": "Internal server error"})
    assert len(cut.json()["data"]) == 2 and cut.json()["total"] == 4  # the client can tell it was cut
    assert len(whole.json()["data"]) == 4


def test_a_dropped_answer_leaves_the_write_committed_and_logs_status_0() -> None:
    sandbox = LavkaSandbox()
    sandbox.faults.drop_after_write = 1
    with pytest.raises(DroppedResponse):
        call(sandbox, "POST", "/items", json={"name": "tea"})
    assert sandbox.items == [{"id": 1, "name": "tea"}]
    assert sandbox.log.count(status=0, method="POST") == 1


def test_rates_refuse_fail_time_out_and_drop_committed_writes_and_count_what_fired() -> None:
    """The chaos test's faults as rates: 429s, 500s, timeouts (unprocessed, status 0 after the hang) and
    answers of committed writes dropped (processed, status 0); ``fired`` counts each kind."""
    sandbox = LavkaSandbox(per_minute=10_000)
    sandbox.faults = FaultPlan(
        rate_limit_rate=0.1,
        server_error_rate=0.1,
        timeout_rate=0.1,
        timeout_seconds=0.01,
        drop_after_write_rate=0.3,
        seed=3,
    )
    statuses: list[int] = []
    for n in range(200):
        try:
            statuses.append(call(sandbox, "POST", "/items", json={"name": str(n)}).status_code)
        except DroppedResponse:
            statuses.append(0)
    fired = sandbox.faults.fired
    assert set(fired) == {"rate_limit", "server_error", "timeout", "drop_after_write"}
    assert statuses.count(429) == fired["rate_limit"] and statuses.count(500) == fired["server_error"]
    assert statuses.count(0) == fired["timeout"] + fired["drop_after_write"]
    assert len(sandbox.items) == statuses.count(201) + fired["drop_after_write"]  # a timeout wrote nothing
    assert [r.status for r in sandbox.log] == statuses


def test_counted_timeouts_and_lost_answers_fire_on_the_next_requests() -> None:
    sandbox = LavkaSandbox(per_minute=100)
    sandbox.faults = FaultPlan(timeouts=1, lost_answers=1, timeout_seconds=0.01)
    for _ in range(2):
        with pytest.raises(DroppedResponse):
            call(sandbox, "POST", "/items", json={"name": "tea"})
    assert call(sandbox, "POST", "/items", json={"name": "tea"}).status_code == 201
    assert len(sandbox.items) == 2  # the timed-out request wrote nothing, the lost answer's write stayed
    assert dict(sandbox.faults.fired) == {"timeout": 1, "lost_answer": 1}


def test_the_log_names_callers_and_costs_but_never_records_the_secret() -> None:
    sandbox = LavkaSandbox()
    call(sandbox, "GET", "/items", token="")
    call(sandbox, "GET", "/items", token="", params={"token": TOKEN, "q": "x"})
    stranger, caller = sandbox.log
    assert (stranger.path, stranger.status, stranger.credential, stranger.weight) == ("/items", 401, "-", 0)
    assert (caller.status, caller.credential, caller.weight) == (200, credential_digest(TOKEN), 1)
    assert caller.query == "token=***&q=x"
    assert TOKEN not in repr(list(sandbox.log))
