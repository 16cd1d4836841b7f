"""MoySklad stock webhooks: deliveries read as MoySklad writes them, subscriptions made once and within limits."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.moysklad import CONNECTOR
from connectors.moysklad.capabilities.stock_events import WANTED, MoySkladStockEvents, WebhookLimitError
from connectors.moysklad.client import MoySkladClient
from connectors.moysklad.sandbox import MoySkladSandbox
from hub.capabilities import StockEvents
from tests.connectors.moysklad.conftest import raw_client, run, sample

OURS = "https://hub.example/hooks/moysklad/shop/"
URL = OURS + "token-of-this-week-0123456789"
OLD = OURS + "token-of-last-week-0123456789"
QUERY = {"requestId": "3b1e1a4e-7f0c-4c55-9d2a-5f1b2c3d4e5f"}
parse = MoySkladStockEvents(None).parse_notice


def body(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()


def demand_event() -> dict[str, Any]:
    event = copy.deepcopy(sample("webhook_event.json"))
    event["events"][0]["meta"]["type"] = "demand"
    event["events"][0]["meta"]["href"] = event["events"][0]["meta"]["href"].replace("/product/", "/demand/")
    return event


def test_the_connector_declares_stock_events() -> None:
    made = CONNECTOR.capabilities[StockEvents](None, None)
    assert isinstance(made, StockEvents)


def test_a_stock_notice_reads_changed_since_as_moscow_time() -> None:
    notice = parse(body(sample("webhookstock_event.json")), QUERY)
    assert (notice.delivery_id, notice.kind) == (QUERY["requestId"], "stock")
    assert notice.changed_since == datetime(2022, 9, 24, 16, 14, 32, tzinfo=UTC)  # 19:14:32 MSK


def test_an_entity_notice_names_the_document_and_when_it_changed() -> None:
    notice = parse(body(demand_event()), QUERY)
    assert notice.kind == "demand"
    assert notice.changed_since == datetime(2021, 7, 21, 12, 51, 16, tzinfo=UTC)


def test_several_events_in_one_delivery_name_every_document() -> None:
    event = demand_event()
    event["events"].append({**event["events"][0], "meta": {"type": "move", "href": "x"}, "action": "CREATE"})
    assert parse(body(event), QUERY).kind == "demand,move"


def _with(event: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**event, **changes}


STOCK = sample("webhookstock_event.json")
MALFORMED = [
    ("no requestId", body(STOCK), {}, "no requestId"),
    ("a path in requestId", body(STOCK), {"requestId": "../../etc"}, "is not an id"),
    ("not JSON", b"{not json", QUERY, "not JSON"),
    ("not UTF-8", b"\xff\xfe\xfa", QUERY, "not JSON"),
    ("5 KB of [[[[", b"[" * 5 * 1024, QUERY, "nested too deeply"),
    ("a list", b"[]", QUERY, "not a JSON object"),
    ("neither kind", body({"accountId": "x"}), QUERY, "neither a stock notice"),
    ("reportUrl a number", body(_with(STOCK, reportUrl=5)), QUERY, "not a string"),
    ("another report", body(_with(STOCK, reportUrl="https://x/report/profit/current")), QUERY, "not a current stock"),
    (
        "a broken time",
        body(_with(STOCK, reportUrl=STOCK["reportUrl"].replace("2022-09-24", "yesterday"))),
        QUERY,
        "not a MoySklad timestamp",
    ),
    ("no events", body({"events": []}), QUERY, "non-empty list"),
    ("an event without a type", body({"events": [{"action": "CREATE"}]}), QUERY, "no meta.type"),
    ("a product edited", body(sample("webhook_event.json")), QUERY, "product UPDATE does not move stock"),
]


@pytest.mark.parametrize(("why", "raw", "query", "message"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_a_malformed_delivery_is_refused_naming_what_is_wrong(
    why: str, raw: bytes, query: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        parse(raw, query)


def test_a_report_url_without_changed_since_asks_for_a_whole_read() -> None:
    notice = parse(body(_with(STOCK, reportUrl=STOCK["reportUrl"].split("?")[0])), QUERY)
    assert notice.changed_since is None


# -- subscriptions, against the sandbox --------------------------------------------------------------


def subscribe(make_client: Callable[..., MoySkladClient], url: str = URL, **kw: Any) -> list[str]:
    async def go() -> list[str]:
        async with make_client(**kw) as ms:
            return await MoySkladStockEvents(ms).subscribe(url, ours=OURS)

    return run(go())


def hooks(sandbox: MoySkladSandbox) -> list[tuple[str, str]]:
    return sorted(
        (str(h["url"]), str(h.get("entityType") or h.get("reportType")))
        for kind in ("webhook", "webhookstock")
        for h in sandbox.store.of_type(kind).values()
    )


def seed_ours(sandbox: MoySkladSandbox, url: str) -> None:
    """Our subscriptions as an earlier register left them (through the sandbox's state: no requests
    spent, so a test's subscribe fits in one rate window)."""
    for want in WANTED:
        sandbox.writer.create(want.kind, {**dict(want.fields), "url": url})


def posts(sandbox: MoySkladSandbox) -> int:
    return sum(1 for entry in sandbox.log if entry.method in ("POST", "PUT", "DELETE"))


def test_subscribing_twice_creates_every_subscription_once(
    sandbox: MoySkladSandbox, make_client: Callable[..., MoySkladClient]
) -> None:
    first = subscribe(make_client)
    writes = posts(sandbox)
    second = subscribe(make_client)
    assert len(first) == len(WANTED) == 25 and all(line.startswith("created") for line in first)
    assert "created stock report bystore" in first and "created customerorder UPDATE" in first
    # returns move stock (back in, out to the supplier) and a new or deleted order sets or frees a reserve
    assert {
        f"created {entity} {action}"
        for entity in ("salesreturn", "purchasereturn", "customerorder")
        for action in ("CREATE", "UPDATE", "DELETE")
    } <= set(first)
    assert second == ["kept 25 already in place"]
    assert posts(sandbox) == writes  # the second run listed, and wrote nothing
    assert {url for url, _ in hooks(sandbox)} == {URL}


def test_our_old_url_is_replaced_and_other_receivers_are_left_alone(
    sandbox: MoySkladSandbox, make_client: Callable[..., MoySkladClient]
) -> None:
    sandbox.token_kind = "user"  # a user may have 5 receivers per kind, a solution 1 (tested below)

    async def foreign() -> None:
        async with raw_client(sandbox) as c:
            await c.post(
                "/entity/webhook", json={"url": "https://other.app/h", "action": "CREATE", "entityType": "demand"}
            )

    run(foreign())
    seed_ours(sandbox, OLD)
    lines = subscribe(make_client)
    assert sum(line.startswith("removed") for line in lines) == 25
    assert "removed demand CREATE: it pointed to another URL of ours" in lines
    assert not any(OLD in line or URL in line for line in lines)  # lines never carry a token
    urls = [url for url, _ in hooks(sandbox)]
    assert OLD not in urls and urls.count(URL) == 25 and "https://other.app/h" in urls


def test_a_solutions_single_slot_is_freed_by_removing_our_stale_subscription_first(
    sandbox: MoySkladSandbox, make_client: Callable[..., MoySkladClient]
) -> None:
    seed_ours(sandbox, OLD)  # the sandbox's credential is a solution token: 1 receiver per kind
    lines = subscribe(make_client)
    assert sum(line.startswith("created") for line in lines) == 25
    assert {url for url, _ in hooks(sandbox)} == {URL}


def test_a_full_account_is_reported_by_kind_after_doing_the_rest(
    sandbox: MoySkladSandbox, make_client: Callable[..., MoySkladClient]
) -> None:
    sandbox.token_kind = "user"

    async def fill() -> None:
        async with raw_client(sandbox) as c:
            for i in range(5):  # MoySklad's limit for a user: 5 receivers of demand CREATE
                await c.post(
                    "/entity/webhook",
                    json={"url": f"https://app{i}.example/h", "action": "CREATE", "entityType": "demand"},
                )

    run(fill())
    with pytest.raises(WebhookLimitError) as refused:
        subscribe(make_client)
    assert refused.value.refused == ["demand CREATE"]
    assert len(refused.value.done) == 24
    assert "no room for demand CREATE" in str(refused.value) and "30007" in str(refused.value)
    assert "\n" not in str(refused.value)
    assert sum(1 for url, entity in hooks(sandbox) if url == URL) == 24


def test_subscriptions_list_every_stock_receiver_and_a_switched_off_one_is_switched_on(
    sandbox: MoySkladSandbox, make_client: Callable[..., MoySkladClient]
) -> None:
    subscribe(make_client)
    stock = next(iter(sandbox.store.of_type("webhookstock").values()))
    stock["enabled"] = False  # MoySklad switches off a receiver that failed for days

    async def listed() -> list[dict[str, str]]:
        async with make_client() as ms:
            return await MoySkladStockEvents(ms).subscriptions()

    before = run(listed())
    assert len(before) == 25
    assert {"kind": "stock report bystore", "url": URL, "state": "disabled"} in before
    assert "enabled stock report bystore: MoySklad had switched it off" in subscribe(make_client)
    assert all(row["state"] == "enabled" for row in run(listed()))


def test_a_receiver_url_must_be_ours_and_fit_moysklad(make_client: Callable[..., MoySkladClient]) -> None:
    with pytest.raises(ValueError, match="must start with ours"):
        subscribe(make_client, "https://elsewhere.example/hook")
    with pytest.raises(ValueError, match="at most 255"):
        subscribe(make_client, URL + "x" * 255)
