"""`sandbox serve --world demo` as a user meets it: the demo's world, a CRM with offers, a usable config."""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.retailcrm.client import RetailCRMClient
from deployments.sandbox_world import DEMO_INTEGRATION, World, served_world
from hub.config import load_config

PRODUCTS = 60


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with served_world(tmp_path_factory.mktemp("world"), PRODUCTS) as running:
        yield running


def test_a_client_listing_offers_finds_the_catalog_the_crm_loaded_from_the_feed(world: World) -> None:
    async def listed() -> list[dict[str, Any]]:
        async with RetailCRMClient(world.env["SKLADBRIDGE_DEMO_CRM_URL"], api_key=world.env["SKLADBRIDGE_DEMO_CRM_KEY"],
                                   site=DEMO_INTEGRATION) as client:
            return [offer async for page in client.iter_offers() for offer in page]

    offers = asyncio.run(listed())
    assert offers and len(offers) == world.offers_loaded
    ms_ids = {*world.moysklad.store.entities["product"], *world.moysklad.store.entities["variant"]}
    assert {offer["xmlId"] for offer in offers} <= ms_ids
    site = world.retailcrm.state.sites[DEMO_INTEGRATION]
    assert site["ymlUrl"] == world.feed_url and site["loadFromYml"]


def test_the_feed_url_is_secret_and_the_bare_path_is_refused(world: World) -> None:
    assert httpx.get(world.feed_url).status_code == 200
    base = world.feed_url.split("/feeds/")[0]
    assert httpx.get(f"{base}/feeds/{DEMO_INTEGRATION}.xml").status_code == 404


def test_the_written_config_loads_with_the_printed_exports(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    assert world.config_path is not None
    text = world.config_path.read_text(encoding="utf-8")
    assert world.env["SKLADBRIDGE_DEMO_CRM_KEY"] not in text and "${SKLADBRIDGE_DEMO_CRM_KEY}" in text
    for line in world.exports:
        name, _, value = line.removeprefix("export ").partition("=")
        monkeypatch.setenv(name, shlex.split(value)[0])
    config = load_config(None)  # from $SKLADBRIDGE_CONFIG, as the CLI finds it
    systems = config.integrations[DEMO_INTEGRATION].systems
    assert str(systems["crm"].base_url).rstrip("/") == world.env["SKLADBRIDGE_DEMO_CRM_URL"]


def test_moysklad_has_the_demos_four_stores(world: World) -> None:
    names = sorted(store["name"] for store in world.moysklad.store.entities["store"].values())
    assert names == ["Основной склад", "Склад 2", "Склад 3", "Склад 4"]


def test_config_path_is_in_the_workdir(world: World) -> None:
    assert world.config_path == world.workdir / "skladbridge.yaml" and Path(world.feed_path).exists()
