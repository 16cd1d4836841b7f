"""The bar every connector meets, run for each registered one against its own sandbox on loopback.

A connector joins by declaring its sandbox kit (``Connector.sandbox``); nobody writes these tests for
it again (the idea of the Singer SDK's standard tap tests). For each system:

* a wrong secret is refused at once — one request, an :class:`AuthError`, the secret in no message;
* a listing is paged to the end in the fewest requests, and a page that comes back trips the loop guard;
* rate refusals (429/503, as the system answers them) and server errors are honoured and retried, and
  counted in the request statistics;
* every capability it declares answers, in canonical frames where it returns frames;
* its settings' secrets are references in the config and redacted wherever the config is shown.

A feed-only connector (no API of its own: a portal loads the file we publish; its kit is a
:class:`FeedKit`) has no credential, listing or rate limit to check; it is held to what it declares:
its feed, written from a catalog sample with every case, is loaded and accepted by its strict
consumer over HTTP, and the stock and prices it carries are accepted once that feed is in place.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pandas as pd
import pytest

from connectors.http import AuthError, PagingLoopError, redact, request_stats
from connectors.sandboxing.kit import FeedKit, SandboxKit
from connectors.sandboxing.serving import LoopbackServer
from hub import model
from hub.capabilities import (
    LINK_KINDS,
    BundleSource,
    CatalogFeedSink,
    CatalogSource,
    ChannelReference,
    CostPriceSink,
    CustomerBook,
    FeedCarried,
    ItemBook,
    Lookup,
    OrderDocuments,
    OrderEvents,
    OrderFieldChange,
    OrderFieldSink,
    OrderFieldSource,
    OrderReference,
    OrderSink,
    OrderSource,
    OrderStates,
    PaymentChange,
    PaymentSink,
    Person,
    PictureSource,
    PriceSink,
    Reachable,
    StaffBook,
    StatusSink,
    StockEchoes,
    StockEvents,
    StockSink,
    StockSource,
)
from hub.capabilities.two_way import (
    ContentChange,
    CustomerCards,
    CustomerChanges,
    ErpChangeEvents,
    OrderContents,
    OrderContentSink,
    RetailSales,
)
from hub.config import parse_config, redacted_dump, resolve_secret
from hub.systems import BUILTIN, Connector, SystemSettings, connector, known_systems


def _feed_only(system: Connector) -> bool:
    """Whether the connector's kit is a :class:`FeedKit` (told by its declared return type, unseeded)."""
    assert system.sandbox is not None
    module, _, function = system.sandbox.partition(":")
    returns = inspect.signature(getattr(importlib.import_module(module), function)).return_annotation
    return returns in (FeedKit, "FeedKit")


ALL_SYSTEMS = [name for name in known_systems() if connector(name).sandbox]
SYSTEMS = [name for name in ALL_SYSTEMS if not _feed_only(connector(name))]
FEED_SYSTEMS = [name for name in ALL_SYSTEMS if _feed_only(connector(name))]


def test_every_bundled_connector_runs_the_suite() -> None:
    assert sorted(BUILTIN) == sorted(name for name in ALL_SYSTEMS if name in BUILTIN)
    assert FEED_SYSTEMS, "the YML channel is checked as a feed-only connector"


class Wire:
    """The sandbox behind a recording proxy: every request's path (from the root) and status, as sent."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[tuple[str, int]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, answered = scope["path"].rstrip("/"), False

        async def noting(message: dict[str, Any]) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                # noted before the answer leaves: the client cannot have it before it is counted
                answered = True
                self.seen.append((path, message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, noting)
        finally:
            if not answered:
                self.seen.append((path, 0))  # 0: no answer (a dropped connection)

    def count(self, path: str = "", statuses: Collection[int] | None = None) -> int:
        return sum(1 for p, s in self.seen if p.startswith(path) and (statuses is None or s in statuses))


@dataclass
class Account:
    """One connector and a fresh account of its sandbox, served on a loopback port behind a :class:`Wire`."""

    system: Connector
    kit: SandboxKit
    base_url: str
    wire: Wire

    def entry(self) -> dict[str, Any]:
        """The system's entry of a config, pointed at this account."""
        return {
            k: v.replace("{base_url}", self.base_url) if isinstance(v, str) else v for k, v in self.kit.settings.items()
        }

    def settings(self) -> SystemSettings:
        return self.system.settings.model_validate(self.entry())

    @asynccontextmanager
    async def client(self) -> AsyncIterator[tuple[Any, SystemSettings]]:
        settings = self.settings()
        async with self.system.client(settings, resolve_secret) as client:
            yield client, settings

    def capability(self, client: Any, settings: SystemSettings, protocol: type) -> Any:
        return self.system.capabilities[protocol](client, settings)


def _kit(system: Connector) -> SandboxKit:
    assert system.sandbox is not None
    module, _, function = system.sandbox.partition(":")
    kit = getattr(importlib.import_module(module), function)()
    assert isinstance(kit, SandboxKit), f"{system.sandbox} must return a SandboxKit"
    return kit


@pytest.fixture(params=SYSTEMS)
def account(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Account]:
    system = connector(request.param)
    kit = _kit(system)
    for name, value in kit.secrets.items():
        monkeypatch.setenv(name, value)
    wire = Wire(kit.sandbox.app)
    with LoopbackServer(wire) as server:
        yield Account(system, kit, f"http://127.0.0.1:{server.port}", wire)


def run(coro: Awaitable[Any]) -> Any:
    async def main() -> Any:
        return await coro

    return asyncio.run(main())


# -- credentials ---------------------------------------------------------------------------------
def test_a_wrong_secret_is_refused_at_once_and_never_named(account: Account, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in account.kit.wrong_secrets.items():
        monkeypatch.setenv(name, value)

    async def check() -> AuthError:
        async with account.client() as (client, settings):
            with pytest.raises(AuthError) as refused:
                await account.capability(client, settings, Reachable).check_access()
            return refused.value

    error = run(check())
    assert account.wire.count() == 1, f"a refused credential is not asked again: {account.wire.seen}"
    assert error.status in (401, 403)
    for value in account.kit.wrong_secrets.values():
        assert value not in str(error) and value not in repr(error.details)


def test_the_right_secret_is_let_in(account: Account) -> None:
    async def check() -> str:
        async with account.client() as (client, settings):
            return str(await account.capability(client, settings, Reachable).check_access())

    assert run(check())


# -- paging --------------------------------------------------------------------------------------
def _listing(account: Account) -> int:
    async def read() -> int:
        async with account.client() as (client, _):
            return await account.kit.listing(client)

    return int(run(read()))


def test_a_listing_is_paged_to_the_end_in_the_fewest_requests(account: Account) -> None:
    kit = account.kit
    assert kit.listing_rows > kit.page_size, "the kit's listing must take more than one page"
    assert _listing(account) == kit.listing_rows
    pages = math.ceil(kit.listing_rows / kit.page_size)
    assert account.wire.count(kit.listing_path) == pages


def _first_page_again(app: Any, path: str, param: str) -> Any:
    """The sandbox, behind a proxy that answers every page of ``path`` with the first one."""

    first = {"offset": "0", "page": "1"}.get(param, "1")

    async def proxy(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].rstrip("/") == path:
            query = parse_qsl(scope["query_string"].decode(), keep_blank_values=True)
            scope = {**scope, "query_string": urlencode([(k, first if k == param else v) for k, v in query]).encode()}
            receive = await _first_page_in_body(receive, param, int(first))
        await app(scope, receive, send)

    return proxy


async def _first_page_in_body(receive: Any, param: str, first: int) -> Any:
    """``receive`` of a request whose JSON body names the page (Horoshop: ``offset`` in the body), set to ``first``."""
    chunks, more = [], True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    try:
        data = json.loads(body) if body else None
    except ValueError:
        data = None
    if isinstance(data, dict) and param in data:
        body = json.dumps({**data, param: first}).encode()
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def test_a_page_that_comes_back_trips_the_loop_guard(account: Account) -> None:
    kit = account.kit
    wire = Wire(_first_page_again(kit.sandbox.app, kit.listing_path, kit.page_param))
    with LoopbackServer(wire) as proxy:
        with pytest.raises(PagingLoopError):
            _listing(Account(account.system, kit, f"http://127.0.0.1:{proxy.port}", wire))
    # it stopped at the page that came back instead of paging on (or retrying it)
    assert wire.count(kit.listing_path) <= math.ceil(kit.listing_rows / kit.page_size)


# -- refusals and failures -----------------------------------------------------------------------
def test_rate_refusals_are_honoured_and_counted(account: Account) -> None:
    kit = account.kit
    kit.sandbox.faults.rate_limit_burst = 2
    before = request_stats().by_endpoint()
    assert _listing(account) == kit.listing_rows
    assert account.wire.count(statuses=(429, 503)) == 2
    assert request_stats().since(before).total(account.system.name).rate_refusals == 2
    # each refused request was asked again once it was let in: no page lost, none asked twice more
    assert account.wire.count(kit.listing_path) == math.ceil(kit.listing_rows / kit.page_size) + 2


def test_server_errors_are_retried_and_counted(account: Account) -> None:
    kit = account.kit
    kit.sandbox.faults.server_errors = 2
    before = request_stats().by_endpoint()
    assert _listing(account) == kit.listing_rows
    assert account.wire.count(statuses=range(500, 600)) == 2
    assert request_stats().since(before).total(account.system.name).server_errors == 2


# -- capabilities --------------------------------------------------------------------------------
def _canonical(kind: str, frame: pd.DataFrame) -> None:
    """The frame has exactly the contract's columns, in order, with its dtypes."""
    assert list(frame.columns) == list(model.FRAMES[kind]), kind
    pd.testing.assert_frame_equal(frame.reset_index(drop=True), model.conform(kind, frame), obj=kind)


async def _catalog_source(cap: CatalogSource) -> None:
    for kind, frame in (await cap.reference()).items():
        _canonical(kind, frame)
    page = await cap.catalog_page(0)
    assert page.size > 0 and page.row_ids
    for kind, frame in page.frames.items():
        _canonical(kind, frame)


async def _picture_source(cap: PictureSource) -> None:
    # a picture source is a catalog source's pictures: its kit's account has some
    assert isinstance(cap, CatalogSource), "a PictureSource downloads the pictures its catalog lists"
    owners = (await cap.catalog_page(0)).image_owners
    images = await cap.pictures(owners[:1])
    assert len(images), "the kit's account has pictures"
    picture = await cap.picture(str(images["download_url"].iloc[0]))
    assert picture.content and picture.media_type.startswith("image/")


async def _stock_source(cap: StockSource) -> None:
    _canonical("stock", await cap.current_stock("stock"))


async def _bundle_source(cap: BundleSource) -> None:
    _canonical("bundle_components", await cap.bundle_components())


async def _stock_events(cap: StockEvents) -> None:
    assert isinstance(await cap.subscriptions(), list)


async def _stock_echoes(cap: StockEchoes) -> None:
    # what a stock delivery looks like is the system's; a body that is none is refused with
    # ValueError (the receiver answers 400), and an empty delivery is no change
    with pytest.raises(ValueError):
        cap.parse_stock_changes(b"not a delivery")
    assert cap.parse_stock_changes(b"[]") == []


async def _channel(cap: StockSink | PriceSink | CatalogFeedSink) -> None:
    reference = await cap.channel_reference()
    assert isinstance(reference, ChannelReference) and not reference.problems
    assert getattr(cap, "max_batch", 1) >= 1


async def _order_source(cap: OrderSource) -> None:
    now = datetime.now(UTC)
    batch = await cap.orders_in_period(now - timedelta(days=3650), now + timedelta(days=1), [], None)
    assert len(batch.orders) > 0, "the kit's account has orders"
    for kind, frame in (("orders", batch.orders), ("order_lines", batch.lines), ("customers", batch.customers)):
        _canonical(kind, frame)


async def _order_sink(cap: OrderSink) -> None:
    reference = await cap.order_reference()
    assert isinstance(reference, OrderReference) and reference.organizations
    assert await cap.find_orders(["no-such-order"]) == {}


async def _customer_book(cap: CustomerBook) -> None:
    assert await cap.find_customers(model.empty_frame("customers"), ["phone"]) == {}


async def _order_states(cap: OrderStates) -> None:
    states = await cap.changed_states(datetime.now(UTC) - timedelta(hours=1))
    assert {"erp_id", "external_id", "state", "updated_at"} <= set(states.columns)


async def _status_sink(cap: StatusSink) -> None:
    statuses = await cap.statuses()
    assert statuses and all(isinstance(s, str) for s in statuses)


async def _lookup(cap: Lookup) -> None:
    # an id that is no object of the system is a plain "no", for every kind it keeps
    answers = []
    for kind in LINK_KINDS:
        try:
            answers.append(await cap.exists(kind, "00000000-0000-4000-8000-000000000000"))
            answers.append(await cap.exists(kind, "999999999"))
        except ValueError:
            continue  # a kind the system keeps none of
    assert answers and not any(answers)


async def _order_documents(cap: OrderDocuments) -> None:
    assert cap.max_batch >= 1
    assert await cap.order_papers(["00000000-0000-4000-8000-000000000000"]) == {}  # no such order: absent
    assert await cap.upsert_documents([]) == []
    assert await cap.cost_prices([]) == {}
    assert await cap.delete_orders([]) == {}
    assert isinstance(await cap.changed_payments(datetime.now(UTC) - timedelta(minutes=5)), list)


async def _cost_price_sink(cap: CostPriceSink) -> None:
    refused = await cap.set_cost_prices({"999999999": {"no-offer": 100}}, overwrite=False)
    assert list(refused) == ["999999999"]  # an order the channel does not have is named, not raised


async def _payment_sink(cap: PaymentSink) -> None:
    refused = await cap.set_payments({"999999999": PaymentChange("paid", 100)})
    assert list(refused) == ["999999999"]  # a payment the channel does not have is named, not raised


async def _staff_book(cap: StaffBook) -> None:
    people = await cap.staff()  # read only: whoever the kit's account has, possibly no one
    assert all(isinstance(p, Person) and p.person_id for p in people)


async def _order_field_source(cap: OrderFieldSource) -> None:
    assert isinstance(await cap.changed_order_fields(datetime.now(UTC) - timedelta(minutes=5), []), list)


async def _order_field_sink(cap: OrderFieldSink) -> None:
    refused = await cap.set_order_fields({"999999999": OrderFieldChange({"no-field": "x"})})
    assert list(refused) == ["999999999"]  # an order the channel does not have is named, not raised


async def _item_book(cap: ItemBook) -> None:
    assert await cap.items_for([], "code", {}) == {}


async def _order_events(cap: OrderEvents) -> None:
    # what a delivery looks like is the system's; a body that is no event is refused with ValueError
    with pytest.raises(ValueError):
        cap.parse_order_event(b"not an event", {})


async def _reachable(cap: Reachable) -> None:
    assert await cap.check_access()


#: an id no system has (a number: every system's id filters take one)
NOBODY = "999999999"


async def _customer_cards(cap: CustomerCards) -> None:
    assert await cap.customer_cards([NOBODY]) == {}
    assert NOBODY in await cap.update_customer_cards({NOBODY: {"email": "nobody@example.com"}})


async def _customer_changes(cap: CustomerChanges) -> None:
    first = await cap.changed_customers(None)  # from now on: a cursor, no customers
    assert list(first.ids) == [] and first.cursor is not None


async def _erp_change_events(cap: ErpChangeEvents) -> None:
    with pytest.raises(ValueError):
        cap.parse_changes(b"not a notice", {})
    polled = await cap.changed_since(datetime.now(UTC) - timedelta(hours=1))
    assert all(change.erp_id and change.entity for change in polled)


async def _order_contents(cap: OrderContents) -> None:
    rows = await cap.changed_order_contents(datetime.now(UTC) - timedelta(hours=1))
    assert all(row.erp_id for row in rows)
    assert cap.manager_comment(None, None) == ""


async def _retail_sales(cap: RetailSales) -> None:
    assert await cap.retail_sales([NOBODY]) == {}


async def _order_content_sink(cap: OrderContentSink) -> None:
    assert await cap.order_contents([NOBODY]) == {}
    assert NOBODY in await cap.set_order_contents({NOBODY: ContentChange(manager_comment="x")})


#: what each capability is asked in the suite; a capability declared with no probe here fails the suite
PROBES: dict[type, Callable[[Any], Awaitable[None]]] = {
    Reachable: _reachable,
    Lookup: _lookup,
    CatalogSource: _catalog_source,
    PictureSource: _picture_source,
    StockSource: _stock_source,
    BundleSource: _bundle_source,
    StockEvents: _stock_events,
    StockEchoes: _stock_echoes,
    StockSink: _channel,
    PriceSink: _channel,
    CatalogFeedSink: _channel,
    OrderSource: _order_source,
    OrderEvents: _order_events,
    OrderSink: _order_sink,
    CustomerBook: _customer_book,
    ItemBook: _item_book,
    OrderStates: _order_states,
    StatusSink: _status_sink,
    OrderDocuments: _order_documents,
    CostPriceSink: _cost_price_sink,
    PaymentSink: _payment_sink,
    StaffBook: _staff_book,
    OrderFieldSource: _order_field_source,
    OrderFieldSink: _order_field_sink,
    CustomerCards: _customer_cards,
    CustomerChanges: _customer_changes,
    ErpChangeEvents: _erp_change_events,
    OrderContents: _order_contents,
    RetailSales: _retail_sales,
    OrderContentSink: _order_content_sink,
}


def test_every_declared_capability_answers_in_canonical_frames(account: Account) -> None:
    declared = list(account.system.capabilities)
    unprobed = [cap.__name__ for cap in declared if cap not in PROBES]
    assert not unprobed, f"add a probe for {unprobed} to the conformance suite"

    async def probe() -> None:
        async with account.client() as (client, settings):
            for protocol in declared:
                cap = account.capability(client, settings, protocol)
                assert isinstance(cap, protocol), f"{type(cap).__name__} does not implement {protocol.__name__}"
                await PROBES[protocol](cap)

    run(probe())


# -- secrets -------------------------------------------------------------------------------------
def test_settings_secrets_are_references_and_redacted(account: Account) -> None:
    config = parse_config({"integrations": {"shop": {"systems": {"it": account.entry()}}}})
    shown = repr(redacted_dump(config))
    for value in account.kit.secrets.values():
        assert value not in shown

    async def open_and_fail() -> str:
        async with account.client():
            return redact(f"calling {account.base_url} with {', '.join(account.kit.secrets.values())}")

    said = run(open_and_fail())  # building the client resolves the secrets and registers them
    for value in account.kit.secrets.values():
        assert value not in said


# -- feed-only connectors ------------------------------------------------------------------------
@pytest.fixture(params=FEED_SYSTEMS)
def feed_account(request: pytest.FixtureRequest) -> tuple[Connector, FeedKit]:
    system = connector(request.param)
    assert system.sandbox is not None
    module, _, function = system.sandbox.partition(":")
    kit = getattr(importlib.import_module(module), function)()
    assert isinstance(kit, FeedKit), f"{system.sandbox} must return a FeedKit"
    return system, kit


def test_a_feed_only_connector_declares_a_feed_and_only_what_it_carries(
    feed_account: tuple[Connector, FeedKit],
) -> None:
    system, kit = feed_account
    settings = system.settings.model_validate(kit.settings)
    assert system.can(CatalogFeedSink), "a feed-only connector publishes a feed"
    for protocol in system.capabilities:
        cap = system.capabilities[protocol](None, settings)
        assert isinstance(cap, protocol), f"{type(cap).__name__} does not implement {protocol.__name__}"
        if protocol in (StockSink, PriceSink):
            # nothing is sent for them: they travel in the feed, which the tasks rewrite first
            assert isinstance(cap, FeedCarried) and cap.carried_by_feed
        if protocol in PROBES:
            run(PROBES[protocol](cap))
        assert protocol in (CatalogFeedSink, StockSink, PriceSink, Reachable), f"{protocol.__name__} needs an API"


def test_a_feed_only_connectors_feed_is_loaded_by_its_strict_consumer(
    feed_account: tuple[Connector, FeedKit], tmp_path: Path
) -> None:
    from deployments.service.feed_server import FeedServer, feed_app

    system, kit = feed_account
    settings = system.settings.model_validate(kit.settings)
    feed = system.capabilities[CatalogFeedSink](None, settings)
    path = tmp_path / "shop.xml"
    written = feed.write_feed(
        path, shop_name="Shop", company="Company", categories=kit.categories, items=feed.feed_items(kit.sample)
    )
    live = kit.sample.offers[~kit.sample.offers["archived"].fillna(False).astype(bool)]
    assert written == len(live)
    with FeedServer(feed_app({"shop": path})) as server:
        accepted = kit.consume(f"{server.url}/feeds/shop.xml")
    assert len(accepted) == written
    # a damaged feed is refused, not half-loaded
    path.write_bytes(path.read_bytes().replace(b"</offers>", b"</offer>"))
    with FeedServer(feed_app({"shop": path})) as server, pytest.raises(ValueError):
        kit.consume(f"{server.url}/feeds/shop.xml")


def test_a_feed_carried_sink_accepts_what_the_feed_holds(feed_account: tuple[Connector, FeedKit]) -> None:
    system, kit = feed_account
    settings = system.settings.model_validate(kit.settings)
    stock = system.capabilities[StockSink](None, settings)
    entries = stock.stock_entries(kit.sample.channel_stock)
    assert {stock.ref(e) for e in entries} == set(kit.sample.channel_stock["offer_id"])
    delivery = run(stock.send(entries))
    assert delivery.processed == len(entries) and not delivery.not_found
