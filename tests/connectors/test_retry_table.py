"""Retries follow the response table: transient failures and rate refusals are retried, the rest not."""

from __future__ import annotations

import asyncio
from typing import ClassVar

import httpx
import pytest

from connectors.http import (
    AuthError,
    BaseClient,
    ConnectorError,
    NotFoundError,
    RateBudget,
    RateLimitedError,
    RequestValidationError,
    RetryPolicy,
    ServerError,
    TransientError,
    request_stats,
)

FAST = RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.01, rate_limit_attempts=5)


class Client(BaseClient):
    system: ClassVar[str] = "test"


def run(
    responses: list[httpx.Response | Exception],
    method: str = "GET",
    idempotent: bool | None = None,
) -> tuple[int, httpx.Response | ConnectorError]:
    """Send one request against a server answering ``responses`` in turn; return calls and result."""
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        item = responses[min(calls, len(responses) - 1)]
        calls += 1
        if isinstance(item, Exception):
            raise item
        return item

    async def go() -> httpx.Response | ConnectorError:
        transport = httpx.MockTransport(handler)
        client = Client("http://t", budget=RateBudget(100, 1, 10), transport=transport, retry=FAST)
        async with client:
            try:
                return await client.request(method, "/entity/x", idempotent=idempotent)
            except ConnectorError as exc:
                return exc

    result = asyncio.run(go())
    return calls, result


def ok() -> httpx.Response:
    return httpx.Response(200, json={"ok": True})


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried_for_get(status: int) -> None:
    calls, result = run([httpx.Response(status), ok()])
    assert calls == 2 and isinstance(result, httpx.Response)


def test_server_errors_give_up_after_max_attempts() -> None:
    calls, result = run([httpx.Response(500, text="boom")])
    assert calls == FAST.max_attempts
    assert isinstance(result, ServerError) and result.status == 500


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, RequestValidationError),
        (401, AuthError),
        (403, AuthError),
        (404, NotFoundError),
        (412, RequestValidationError),
        (413, RequestValidationError),
        (418, ConnectorError),
    ],
)
def test_other_4xx_fail_at_once(status: int, error: type[ConnectorError]) -> None:
    calls, result = run([httpx.Response(status, text="nope"), ok()])
    assert calls == 1
    assert type(result) is error
    assert isinstance(result, ConnectorError) and result.system == "test" and result.endpoint == "/entity/x"


def test_429_is_retried_honouring_retry_after() -> None:
    calls, result = run([httpx.Response(429, headers={"Retry-After": "0.05"}), ok()])
    assert calls == 2 and isinstance(result, httpx.Response)


def test_429_storm_ends_in_rate_limited_error() -> None:
    calls, result = run([httpx.Response(429, headers={"Retry-After": "0"})])
    assert calls == FAST.rate_limit_attempts and isinstance(result, RateLimitedError)


def test_post_is_not_repeated_after_a_5xx_without_idempotency_key() -> None:
    calls, result = run([httpx.Response(500), ok()], method="POST")
    assert calls == 1 and isinstance(result, ServerError)
    assert "may have been applied" in str(result)


def test_post_with_idempotency_key_is_retried() -> None:
    calls, result = run([httpx.Response(503), ok()], method="POST", idempotent=True)
    assert calls == 2 and isinstance(result, httpx.Response)


def test_post_rate_refusal_is_retried_because_it_was_never_processed() -> None:
    calls, result = run([httpx.Response(429), ok()], method="POST")
    assert calls == 2 and isinstance(result, httpx.Response)


def test_connect_error_is_retried_even_for_post() -> None:
    calls, result = run([httpx.ConnectError("refused"), ok()], method="POST")
    assert calls == 2 and isinstance(result, httpx.Response)


def test_read_timeout_after_sending_a_post_is_not_repeated() -> None:
    calls, result = run([httpx.ReadTimeout("slow"), ok()], method="POST")
    assert calls == 1 and isinstance(result, TransientError)


def test_read_timeout_for_get_is_retried() -> None:
    calls, result = run([httpx.ReadTimeout("slow"), ok()])
    assert calls == 2 and isinstance(result, httpx.Response)


def test_connector_can_reclassify_responses() -> None:
    """A hook turns a system's own signal (retailCRM: 503 = rate refusal) into the table's terms."""
    from connectors.http import Action, Outcome

    class CrmLike(Client):
        def classify(self, response: httpx.Response) -> Outcome | None:
            return Outcome(Action.RATE_LIMITED, RateLimitedError) if response.status_code == 503 else None

    handler_calls: list[int] = []
    replies = [httpx.Response(503), httpx.Response(503), ok()]

    def handler(request: httpx.Request) -> httpx.Response:
        handler_calls.append(1)
        return replies[len(handler_calls) - 1]

    async def go() -> httpx.Response:
        async with CrmLike(
            "http://t", budget=RateBudget(100, 1, 10), transport=httpx.MockTransport(handler), retry=FAST
        ) as client:
            return await client.request("POST", "/x")  # a rate refusal is safe to repeat even for POST

    assert asyncio.run(go()).status_code == 200
    assert len(handler_calls) == 3
    assert request_stats().total("test").rate_refusals == 2
