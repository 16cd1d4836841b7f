"""The keyCRM client against the sandbox and the vendor samples: paging by next link, 422 bodies as
typed errors, 401 at once, 429 honoured, both wire timestamp formats to UTC."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.http import AuthError, RateBudget, RequestValidationError, request_stats
from connectors.keycrm.convert.orders import orders_from_keycrm
from connectors.keycrm.sandbox import KeyCRMSandbox
from connectors.keycrm.wire.conventions import error_summary, page_envelope, parse_time
from tests.connectors.keycrm.conftest import client_of
from tests.shared_apis import SHARED_APIS, require

SAMPLES = SHARED_APIS / "crm-samples"


def sample(name: str) -> Any:
    return json.loads(require(SAMPLES / name).read_text())


def test_both_timestamp_formats_become_utc_once() -> None:
    iso = parse_time("2024-05-28T09:24:01.000000Z")
    plain = parse_time("2024-05-28 09:34:10")
    assert iso == datetime(2024, 5, 28, 9, 24, 1, tzinfo=UTC)
    assert plain == datetime(2024, 5, 28, 9, 34, 10, tzinfo=UTC)
    assert parse_time(None) is None
    with pytest.raises(ValueError):
        parse_time("28.05.2024")


def test_the_spec_order_converts_to_canonical_frames() -> None:
    frames = orders_from_keycrm([sample("keycrm-order-get.response.json")])
    order = frames["orders"].iloc[0]
    assert order["order_id"] == "22" and order["status"] == "1"
    assert order["total"] == 12250  # 122.5 UAH in kopiykas
    assert order["created_at"] == datetime(2020, 5, 16, 17, 0, 7, tzinfo=UTC)
    line = frames["order_lines"].iloc[0]
    assert line["offer_id"] == "sku001"  # the catalog offer's SKU, not the line's
    assert line["name"] == "Iphone XS max 256gb, Gold"  # properties after commas
    assert frames["customers"].iloc[0]["phone"] == "+1 555-234-1234"


def test_the_spec_order_payments_convert_to_canonical_payments() -> None:
    payments = orders_from_keycrm([sample("keycrm-order-get.response.json")])["payments"]
    (row,) = payments.to_dict("records")
    assert (row["payment_id"], row["order_id"], row["type"], row["status"]) == ("2233", "22", "2", "paid")
    assert row["amount"] == 12350 and row["external_id"] == "UD12345"  # 123.5 UAH; the bank's transaction
    assert row["paid_at"] == datetime(2021, 2, 21, 14, 44, tzinfo=UTC)  # payment_date, Y-m-d H:i:s in UTC
    bare = {**sample("keycrm-order-get.response.json"), "payments": []}
    assert orders_from_keycrm([bare])["payments"].empty  # none: the hub's staged ones go too


def test_a_payment_status_event_is_not_a_repeat_of_the_status_change_before_it() -> None:
    from connectors.keycrm.capabilities.orders import KeyCRMOrders
    from connectors.keycrm.settings import KeyCRMSettings

    parse = KeyCRMOrders(None, KeyCRMSettings(system="keycrm", api_key="${KC_KEY}")).parse_order_event
    context = {"id": 7, "status_changed_at": "2026-12-01T10:00:00.000000Z", "updated_at": "2026-12-01 10:05:00"}
    status = parse(json.dumps({"event": "order.change_order_status", "context": context}).encode(), {})
    payment = parse(json.dumps({"event": "order.change_payment_status", "context": context}).encode(), {})
    assert status.key == "7@2026-12-01T10:00:00+00:00" and payment.key == "7@2026-12-01T10:05:00+00:00"


def test_the_laravel_422_sample_reads_as_one_line() -> None:
    said = error_summary(sample("keycrm-error-422.ASSUMED.json"))
    assert "stocks.0.quantity: The stocks.0.quantity field is required." in said


def test_a_page_link_of_only_the_page_number_keeps_the_path_and_filters() -> None:
    sandbox = KeyCRMSandbox(api_key="k")
    sandbox.seed_catalog(120)
    # the sandbox writes full links; a proxy that answers ``?page=N`` only must page the same
    inner = sandbox.app

    async def short_links(scope: Any, receive: Any, send: Any) -> None:
        async def rewrite(message: Any) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                body = json.loads(message["body"])
                if isinstance(body, dict) and body.get("next_page_url"):
                    body["next_page_url"] = "?page=" + body["next_page_url"].rsplit("page=", 1)[1]
                message = {**message, "body": json.dumps(body).encode()}
            elif message["type"] == "http.response.start":
                message = {**message, "headers": [h for h in message["headers"] if h[0] != b"content-length"]}
            await send(message)

        await inner(scope, receive, rewrite)

    sandbox.app = short_links  # type: ignore[assignment]

    async def read() -> list[str]:
        async with client_of(sandbox, key="k") as client:
            return [o["sku"] async for page in client.offer_pages({"product_id": None}) for o in page]

    skus = asyncio.run(read())
    assert len(skus) == 120 and len(set(skus)) == 120
    assert [r.path for r in sandbox.log].count("/offers") == 3


def test_a_wrong_key_is_refused_once_with_auth_error(sandbox: KeyCRMSandbox) -> None:
    async def go() -> None:
        async with client_of(sandbox, key="wrong") as client:
            await client.order_statuses()

    with pytest.raises(AuthError) as refused:
        asyncio.run(go())
    assert refused.value.status == 401 and "Unauthenticated" in str(refused.value)
    assert len(sandbox.log) == 1


def test_an_invalid_stock_write_is_a_typed_error_with_the_fields(sandbox: KeyCRMSandbox) -> None:
    async def go() -> None:
        async with client_of(sandbox) as client:
            await client.put_stocks(99, [{"sku": "KC-000001"}])

    with pytest.raises(RequestValidationError) as refused:
        asyncio.run(go())
    assert refused.value.status == 422
    assert set(refused.value.details["errors"]) == {"warehouse_id", "stocks.0.quantity"}


def test_a_page_over_50_rows_is_refused_by_the_sandbox(sandbox: KeyCRMSandbox) -> None:
    async def go() -> None:
        async with client_of(sandbox) as client:
            await client.call("GET", "/offers", params={"limit": 51})

    with pytest.raises(RequestValidationError, match="limit"):
        asyncio.run(go())


def test_the_60_a_minute_limit_is_paced_and_a_429_is_honoured() -> None:
    """A window of 4 requests a second stands in for keyCRM's 60 a minute: the client's own budget
    keeps it from ever being refused, and a refusal forced by the server is waited out and counted."""
    sandbox = KeyCRMSandbox(api_key="k", per_minute=60)
    sandbox.quota.seconds = 1.0  # type: ignore[union-attr]
    sandbox.quota.limit = 4  # type: ignore[union-attr]
    sandbox.seed_catalog(10)
    budget = RateBudget(capacity=4, window_seconds=1.0, max_in_flight=2)

    async def burst() -> float:
        started = time.monotonic()
        async with client_of(sandbox, budget, key="k") as client:
            await asyncio.gather(*(client.order_statuses() for _ in range(12)))
        return time.monotonic() - started

    took = asyncio.run(burst())
    assert not [r for r in sandbox.log if r.status == 429], "paced: never refused"
    assert took >= 2.0  # 12 requests at 4 a second
    sandbox.faults.rate_limit_burst = 1
    before = request_stats().by_endpoint()
    asyncio.run(burst())
    assert request_stats().since(before).total("keycrm").rate_refusals == 1


def test_the_sandbox_pages_in_the_spec_envelope() -> None:
    spec = sample("keycrm-offers-list.response.json")
    ours = page_envelope([{}], total=100, page=1, per_page=15, url="https://openapi.keycrm.app/v1/offers")
    assert set(spec) <= set(ours)
    assert ours["next_page_url"].endswith("page=2") and ours["last_page"] == 7
