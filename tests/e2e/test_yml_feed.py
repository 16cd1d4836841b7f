"""A YML integration end to end: MoySklad's sandbox on loopback, the real flows and store, the hub's
feed server, and a portal (the YML sandbox) that loads the feed strictly with conditional GETs.

What a merchant cares about: the full import writes a feed the portal accepts, with every live
offer of MoySklad, its stock by outlet and its prices; a stock change in MoySklad reaches the served
feed with the next stock-sync cycle and nothing else; a portal polling an unchanged feed gets 304.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.moysklad.sandbox import MoySkladSandbox
from connectors.moysklad.sandbox.generator import seed_catalog
from connectors.sandboxing import LoopbackServer
from connectors.yml.sandbox.portal import YmlPortal
from deployments.service.feed_server import FeedServer, feed_app, feed_url
from hub.store import open_store
from tests.e2e.test_stock_sync import change_stock
from tests.run_results import summary_of

pytestmark = pytest.mark.usefixtures("prefect_backend")

OUTLETS = {"Основной склад": "1", "Склад 2": "1", "Склад 3": "2"}  # Склад 4 left out

CONFIG = """
database_url: sqlite:///{db}
integrations:
  agora:
    systems:
      ms: {{system: moysklad, base_url: "{ms_url}", login: admin@yml, password: "${{YML_TEST_MS_PASSWORD}}"}}
      portal: {{system: yml, base_url: "https://portal.example.com", outlets: ["1", "2"], pictures: 3}}
    flows:
      catalog: {{from: ms, to: portal}}
      stock: {{from: ms, to: portal}}
      prices: {{from: ms, to: portal}}
    mappings:
      stores: {{Основной склад: "1", Склад 2: "1", Склад 3: "2", Склад 4: null}}
      price_types: {{Цена продажи: price, Оптовая цена: oldprice}}
      categories: {{"{folder}": "1293"}}
    options:
      stock: {{measure: stock}}
      feed: {{dir: feeds, shop_name: Агора-демо, company: ООО Ромашка}}
"""


def MAPPED_FOLDER_ID(sandbox: MoySkladSandbox) -> str:
    """The folder the config maps to the portal's category 1293 (the first one, by id)."""
    return min(sandbox.store.of_type("productfolder"))


@dataclass
class YmlWorld:
    moysklad: MoySkladSandbox
    config_path: Path
    feed_path: Path
    portal: YmlPortal


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[YmlWorld]:
    workdir = tmp_path_factory.mktemp("yml")
    password = secrets.token_urlsafe(12)
    moysklad = MoySkladSandbox(token=None, login="admin@yml", password=password, token_kind="user")
    seed_catalog(
        moysklad, 30, variants_ratio=0.3, stores=4, price_types=2, images_ratio=0.5, bundles_ratio=0.15, seed=3
    )
    # one variantless product archived in MoySklad: the feed leaves it out
    plain = next(p for p in moysklad.store.of_type("product").values() if not p.get("variantsCount"))
    moysklad.store.put("product", {**plain, "archived": True})
    mp = pytest.MonkeyPatch()
    mp.setenv("YML_TEST_MS_PASSWORD", password)
    feed_path = workdir / "feeds" / "agora.xml"
    with LoopbackServer(moysklad.app) as ms, FeedServer(feed_app({"agora": feed_path}, {"agora": "s" * 24})) as feeds:
        config = workdir / "skladbridge.yaml"
        config.write_text(
            CONFIG.format(
                db=workdir / "skladbridge.db", ms_url=f"{ms.url}/api/remap/1.2", folder=MAPPED_FOLDER_ID(moysklad)
            ),
            encoding="utf-8",
        )
        yield YmlWorld(moysklad, config, feed_path, YmlPortal(feed_url(feeds.url, "agora", "s" * 24)))
    mp.undo()


def expected_outlets(sandbox: MoySkladSandbox) -> dict[str, dict[str, int]]:
    """MoySklad's ledger per live stocked offer and outlet: negatives as zero, mapped stores summed."""
    names = {s["id"]: s["name"] for s in sandbox.store.of_type("store").values()}
    live = {
        oid
        for kind in ("product", "variant")
        for oid, obj in sandbox.store.of_type(kind).items()
        if not obj.get("archived") and not (kind == "product" and obj.get("variantsCount"))
    }
    totals = {oid: {"1": 0, "2": 0} for oid in live}
    for row in sandbox.ledger.report(by_store=True, stock_type="stock", include_zero=True):
        outlet = OUTLETS.get(names.get(row.get("storeId"), ""))
        if outlet and row["assortmentId"] in totals:
            totals[row["assortmentId"]][outlet] += int(max(float(row["stock"]), 0.0))
    return totals


def feed_by_source_id(world: YmlWorld) -> dict[str, Any]:
    """The portal's offers by MoySklad id (the feed's ids are the hub's keys: resolved through the links)."""
    catalog = world.portal.load()
    store = open_store(f"sqlite:///{world.config_path.parent / 'skladbridge.db'}")
    try:
        ids = [o for kind in ("product", "variant", "bundle", "service") for o in world.moysklad.store.of_type(kind)]
        keys = store.links.resolve("agora", "offers", "moysklad", ids)
    finally:
        store.close()
    source_of = {key: source for source, key in keys.items()}
    return {source_of[oid]: offer for oid, offer in catalog.offers.items()}


def test_the_full_import_writes_a_feed_the_portal_accepts(world: YmlWorld) -> None:
    from flows.full_import import full_import

    summary = summary_of(full_import("agora", config_path=str(world.config_path)))
    assert summary["requests"]["moysklad"]["rate_refusals"] == 0
    offers = feed_by_source_id(world)
    assert world.portal.loads == [200]
    expected = expected_outlets(world.moysklad)
    stocked = {o: offer for o, offer in offers.items() if o in expected}
    assert set(stocked) == set(expected), "every live product and variant is in the feed"
    assert {o: offer.outlets for o, offer in stocked.items()} == expected
    assert all(offer.count == sum(expected[o].values()) for o, offer in stocked.items())
    # archived items are left out; bundles are in, with a count from their components
    archived = {
        o for kind in ("product", "variant") for o, x in world.moysklad.store.of_type(kind).items() if x.get("archived")
    }
    assert archived and not archived & set(offers)
    bundles = set(world.moysklad.store.of_type("bundle"))
    assert bundles & set(offers) and all(offers[b].count is not None for b in bundles & set(offers))
    # variants of one product share a group; prices are MoySklad's "Цена продажи"
    variants = world.moysklad.store.of_type("variant")
    groups: dict[str, set[str | None]] = {}
    for vid, variant in variants.items():
        if vid in offers:
            product = str(variant["product"]["meta"]["href"]).rsplit("/", 1)[1]
            groups.setdefault(product, set()).add(offers[vid].group_id)
    assert groups and all(len(g) == 1 and None not in g for g in groups.values())
    priced = next(p for p in world.moysklad.store.of_type("product").values() if p["id"] in offers)
    sale_price = next(p for p in priced["salePrices"] if p["priceType"]["name"] == "Цена продажи")
    assert offers[priced["id"]].price == Decimal(int(sale_price["value"])).scaleb(-2)
    assert any(offer.pictures for offer in offers.values()), "pictures are carried (paid tariff: permanent links)"
    # characteristics as params; the mapped folder's items in the portal's category 1293
    assert all(offers[v].params for v in variants if v in offers)
    catalog = world.portal.catalog
    assert catalog is not None and "1293" in catalog.categories
    folder = MAPPED_FOLDER_ID(world.moysklad)
    in_folder = [
        p["id"] for p in world.moysklad.store.of_type("product").values()
        if p["id"] in offers and str((p.get("productFolder") or {}).get("meta", {}).get("href", "")).endswith(folder)
    ]  # fmt: skip
    assert in_folder and all(offers[p].category_id == "1293" for p in in_folder)
    assert {o.category_id for o in offers.values()} - {"1293"}, "the other folders keep the MoySklad tree"


def test_a_stock_change_reaches_the_served_feed_and_an_unchanged_feed_answers_304(world: YmlWorld) -> None:
    from flows.stock_sync import stock_sync

    stock_sync("agora", config_path=str(world.config_path))  # the first cycle reads all stock
    world.portal.load()
    before = world.portal.loads[-1]
    world.portal.load()
    assert world.portal.loads[-1] == 304, "an unchanged feed costs the portal nothing"
    offer = next(o for o, outlets in expected_outlets(world.moysklad).items() if outlets["2"] >= 0)
    was = feed_by_source_id(world)[offer].outlets["2"]
    change_stock(world.moysklad, offer, "Склад 3", +4)
    summary = summary_of(stock_sync("agora", config_path=str(world.config_path)))
    assert summary["offers_changed"] >= 1
    after = feed_by_source_id(world)
    assert world.portal.loads[-1] == 200
    assert after[offer].outlets["2"] == was + 4
    assert after[offer].outlets == expected_outlets(world.moysklad)[offer]
    world.portal.load()
    assert world.portal.loads[-1] == 304
    assert before in (200, 304)
