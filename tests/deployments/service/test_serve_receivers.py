"""What ``skladbridge serve`` mounts meets hostile input as each receiver alone does: bare 404s, 4xx, no redirect."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from connectors.retailcrm.convert.icml import IcmlOffer, write_icml
from deployments.service.serve import Plan, hub_app
from deployments.service.webhooks import receiving_hooks
from hub.config import load_config
from tests.deployments.service.test_webhooks import BASE, STOCK_BODY, TOKEN
from tests.deployments.service.test_webhooks import config as config  # the fixture, used by name

FEED_SECRET = "feed-secret-of-the-shop-0123456789"


@pytest.fixture
def app(config: Path, tmp_path: Path) -> Iterator[Starlette]:
    feed = tmp_path / "shop.xml"
    write_icml(
        feed,
        shop_name="s",
        company="c",
        categories=[],
        offers=[IcmlOffer(id="o1", product_id="p1", name="Шарф", product_name="Шарф")],
    )
    loaded = load_config(config)
    served = hub_app(config, Plan(loaded, config, [], receiving_hooks(loaded), {"shop": feed}, {"shop": FEED_SECRET}))
    yield served
    served.state.receiver.close()


def send(app: Starlette, *requests: tuple[str, str, bytes, str]) -> list[httpx.Response]:
    """``(method, path, body, content type)`` requests, in order, with MoySklad's ``requestId``."""

    async def go() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
            return [
                await client.request(m, p, content=b, params={"requestId": "r"}, headers={"Content-Type": t})
                for m, p, b, t in requests
            ]

    return asyncio.run(go())


def test_near_miss_paths_of_both_receivers_get_the_same_bare_404_and_never_a_redirect(app: Starlette) -> None:
    hook, feed = f"/hooks/moysklad/shop/{TOKEN}", f"/feeds/shop/{FEED_SECRET}.xml"
    paths = [
        hook + "/",
        hook + "//",
        "/hooks/moysklad/shop",
        "/hooks/moysklad/shop/",
        "/hooks",
        "/hooks/",
        feed + "/",
        "/feeds/shop/",
        "/feeds/shop",
        "/feeds",
        "/feeds/",
        "/nothing/",
        "/nothing",
        "/",
    ]
    answers = send(app, *((method, path, b"{}", "application/json") for method in ("GET", "POST") for path in paths))
    assert [(a.status_code, a.text, a.headers.get("location")) for a in answers] == [(404, "not found\n", None)] * len(
        answers
    )
    assert [a.status_code for a in send(app, ("GET", feed, b"", "text/plain"))] == [200]
    assert app.state.receiver.store.journal.list() == []


def test_a_hostile_notice_to_the_served_hub_is_a_4xx_with_a_journal_entry(app: Starlette) -> None:
    hook = f"/hooks/moysklad/shop/{TOKEN}"
    nested, text = send(
        app, ("POST", hook, b"[" * 5 * 1024, "application/json"), ("POST", hook, str(STOCK_BODY).encode(), "text/plain")
    )
    assert (nested.status_code, text.status_code) == (400, 415)
    entries = app.state.receiver.store.journal.list(integration="shop")
    assert sorted(e.message.split(":")[0] for e in entries) == [
        "a malformed moysklad notice was refused",
        "a moysklad notice with Content-Type 'text/plain' was refused",
    ]
    assert app.state.receiver.store.notices.integrations_pending() == []
