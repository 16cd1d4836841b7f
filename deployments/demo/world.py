"""The demo's world on loopback: both sandboxes, the feed server, and the CRM site that loads the feed.

``skladbridge demo`` and ``skladbridge sandbox serve --world demo`` start the same world through
:func:`open_world`: a MoySklad sandbox seeded like the demo's (4 stores, 2 price types), a retailCRM
sandbox with site ``demo``, warehouses msk/spb, price types base/wholesale and a 1 s catalog timer,
and the feed server, whose secret URL the site's ``ymlUrl`` points to.

The CRM accepts two keys, as a shop's account has: the hub's, and the shop site's (``site_key``),
with which orders are created through the API as the site's module creates them (the hub skips
only what it wrote itself, so it reads them). ``POST /sandbox/orders/create`` creates one as a
manager in the CRM's UI would, with no key.

Served for a user (:func:`serve_world`), the CRM must already have a catalog, as a real account
does: the world writes a starter feed from the MoySklad sandbox's assortment (offer ids as the
hub writes them, so the hub's first feed updates these offers rather than duplicating them) and
the CRM loads it through its own admin call, over HTTP, as it would load the hub's feed.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from connectors.moysklad.sandbox import MoySkladSandbox
from connectors.moysklad.sandbox.generator import seed_catalog
from connectors.retailcrm.convert.icml import IcmlCategory, IcmlOffer, write_icml
from connectors.retailcrm.sandbox import RetailCRMSandbox
from connectors.sandboxing import LoopbackServer
from deployments.service.feed_server import FeedServer, feed_app, feed_url

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DEMO_INTEGRATION = "demo"
MS_LOGIN = "admin@demo"
CRM_STORES = (("msk", "Склад Москва"), ("spb", "Склад Санкт-Петербург"))
CRM_PRICE_TYPES = (("base", "Базовая"), ("wholesale", "Оптовая"))


@dataclass
class World:
    """The running world: its systems, where the feed is, and the config's environment."""

    workdir: Path
    moysklad: MoySkladSandbox
    retailcrm: RetailCRMSandbox
    feed_path: Path
    feed_url: str
    env: dict[str, str] = field(default_factory=dict)
    config_path: Path | None = None
    exports: list[str] = field(default_factory=list)
    offers_loaded: int = 0
    site_key: str = ""  # the shop site's own key: orders created with it are the shop's, not the hub's


def demo_template() -> Path:
    template = EXAMPLES / "demo.yaml"
    if not template.exists():
        raise FileNotFoundError(f"{template} is missing: run from a source checkout (pip install -e .)")
    return template


@contextmanager
def open_world(
    workdir: Path,
    products: int,
    *,
    seed: int = 0,
    stores: int = 4,
    bundles_ratio: float = 0.0,
    ms_port: int | None = None,
    crm_port: int | None = None,
    feed_port: int | None = None,
) -> Iterator[World]:
    """Start the sandboxes and the feed server on 127.0.0.1 (free ports unless given); stop on exit."""
    workdir.mkdir(parents=True, exist_ok=True)
    # the sandboxes start empty every time, so must the hub: its snapshots would otherwise say the
    # fresh CRM already has everything
    for stale in [*workdir.glob("skladbridge.db*"), *(workdir / "feeds").glob("*.xml")]:
        stale.unlink()
    feed_path = workdir / "feeds" / f"{DEMO_INTEGRATION}.xml"
    ms_password, crm_key, site_key, feed_secret, hook_secret = (secrets.token_urlsafe(n) for n in (12, 16, 16, 24, 24))
    moysklad = MoySkladSandbox(token=None, login=MS_LOGIN, password=ms_password, token_kind="user", seed=seed)
    seed_catalog(
        moysklad,
        products,
        variants_ratio=0.3,
        stores=stores,
        price_types=2,
        images_ratio=0.3,
        bundles_ratio=bundles_ratio,
        seed=seed,
    )
    retailcrm = RetailCRMSandbox(
        api_key=crm_key,
        sites=(DEMO_INTEGRATION,),
        stores=CRM_STORES,
        price_types=CRM_PRICE_TYPES,
        catalog_refresh_seconds=1.0,
    )
    retailcrm.add_api_key(site_key, (DEMO_INTEGRATION,))
    with ExitStack() as stack:
        ms_server = stack.enter_context(LoopbackServer(moysklad.app, port=ms_port))
        crm_server = stack.enter_context(LoopbackServer(retailcrm.app, port=crm_port))
        feeds = feed_app({DEMO_INTEGRATION: feed_path}, {DEMO_INTEGRATION: feed_secret})
        feed_server = stack.enter_context(FeedServer(feeds, port=feed_port or 0))
        url = feed_url(feed_server.url, DEMO_INTEGRATION, feed_secret)
        retailcrm.state.sites[DEMO_INTEGRATION].update({"ymlUrl": url, "loadFromYml": True})
        env = {
            "SKLADBRIDGE_DEMO_DATABASE_URL": f"sqlite:///{(workdir / 'skladbridge.db').resolve()}",
            "SKLADBRIDGE_DEMO_MS_URL": f"{ms_server.url}/api/remap/1.2",
            "SKLADBRIDGE_DEMO_MS_PASSWORD": ms_password,
            "SKLADBRIDGE_DEMO_CRM_URL": crm_server.url,
            "SKLADBRIDGE_DEMO_CRM_KEY": crm_key,
            "SKLADBRIDGE_DEMO_FEED_URL": url,
            "SKLADBRIDGE_DEMO_FEED_SECRET": feed_secret,
            "SKLADBRIDGE_DEMO_WEBHOOK_SECRET": hook_secret,
        }
        yield World(workdir, moysklad, retailcrm, feed_path, url, env, site_key=site_key)


def starter_offers(moysklad: MoySkladSandbox) -> tuple[list[IcmlCategory], list[IcmlOffer]]:
    """The MoySklad sandbox's live folders and offers as ICML, ids as the hub's feed has them.

    Offer id and ``xmlId`` are the MoySklad id, a variant's product is its product; the price is
    the first sale price type's (the demo maps it to the CRM's ``base``). No purchase prices, stock
    or pictures: those are the hub's business.
    """
    entities = moysklad.store.entities
    folders = {fid: f for fid, f in entities["productfolder"].items() if not f.get("archived")}
    categories = [
        IcmlCategory(
            id=fid,
            name=str(f["name"]),
            parent_id=_ref_id(f.get("productFolder")) if _ref_id(f.get("productFolder")) in folders else None,
        )
        for fid, f in folders.items()
    ]
    products = entities["product"]
    offers: list[IcmlOffer] = []
    for pid, product in products.items():
        if product.get("archived") or product.get("variantsCount"):
            continue
        offers.append(_offer(pid, pid, product, product, folders))
    for vid, variant in entities["variant"].items():
        parent = products.get(_ref_id(variant.get("product")) or "")
        if parent is not None and not variant.get("archived") and not parent.get("archived"):
            offers.append(_offer(vid, str(parent["id"]), variant, parent, folders))
    return categories, offers


def _ref_id(ref: Any) -> str | None:
    return str(ref["meta"]["href"]).rsplit("/", 1)[-1] if isinstance(ref, dict) and "meta" in ref else None


def _offer(
    offer_id: str, product_id: str, item: dict[str, Any], product: dict[str, Any], folders: dict[str, Any]
) -> IcmlOffer:
    prices = item.get("salePrices") or product.get("salePrices") or []
    folder = _ref_id(product.get("productFolder"))
    return IcmlOffer(
        id=offer_id,
        product_id=product_id,
        xml_id=offer_id,
        name=str(item["name"]),
        product_name=str(product["name"]),
        price=Decimal(str(prices[0]["value"])) / 100 if prices else None,  # kopecks
        category_ids=(folder,) if folder in folders else (),
    )


def load_starter_catalog(world: World, crm_url: str) -> int:
    """Write the starter feed and have the CRM load it now with the sandbox's admin call; returns offers."""
    categories, offers = starter_offers(world.moysklad)
    world.feed_path.parent.mkdir(parents=True, exist_ok=True)
    write_icml(world.feed_path, shop_name="Демо-магазин", company="ООО Ромашка", categories=categories, offers=offers)
    answer = httpx.post(f"{crm_url}/sandbox/sites/{DEMO_INTEGRATION}/load-catalog", timeout=120)
    answer.raise_for_status()
    return int(answer.json()["offersLoaded"])


def write_served_config(world: World, config_path: Path) -> list[str]:
    """Copy the demo config (every value stays a ``${VAR}`` reference); return the ``export`` lines."""
    shutil.copyfile(demo_template(), config_path)
    return [f"export {key}='{value}'" for key, value in world.env.items()] + [
        f"export SKLADBRIDGE_CONFIG='{config_path.resolve()}'"
    ]


@contextmanager
def served_world(
    workdir: Path,
    products: int = 1000,
    *,
    seed: int = 0,
    ms_port: int | None = None,
    crm_port: int | None = None,
    feed_port: int | None = None,
) -> Iterator[World]:
    """The demo's world with the CRM's catalog loaded and a config whose references ``exports`` fill."""
    with open_world(workdir, products, seed=seed, ms_port=ms_port, crm_port=crm_port, feed_port=feed_port) as world:
        world.offers_loaded = load_starter_catalog(world, world.env["SKLADBRIDGE_DEMO_CRM_URL"])
        world.config_path = workdir / "skladbridge.yaml"
        world.exports = write_served_config(world, world.config_path)
        yield world


def serve_world(
    workdir: Path,
    products: int = 1000,
    *,
    seed: int = 0,
    ms_port: int | None = None,
    crm_port: int | None = None,
    feed_port: int | None = None,
    echo: Any = print,
) -> None:
    """``skladbridge sandbox serve --world demo``: the demo's world with a loaded CRM, until Ctrl-C.

    Prints where everything is and the ``export`` lines the config's ``${VAR}`` references need.
    """
    with served_world(workdir, products, seed=seed, ms_port=ms_port, crm_port=crm_port, feed_port=feed_port) as world:
        echo(f"MoySklad sandbox:  {world.env['SKLADBRIDGE_DEMO_MS_URL']}  ({products} products, login {MS_LOGIN})")
        echo(
            f"retailCRM sandbox: {world.env['SKLADBRIDGE_DEMO_CRM_URL']}  (site {DEMO_INTEGRATION}, "
            f"{world.offers_loaded} offers loaded from the feed)"
        )
        echo(f"feed:              {world.feed_path} served at the site's ymlUrl (reloaded every 1 s)")
        echo(f"config:            {world.config_path}")
        echo("Set the config's variables in your shell (they hold secrets: keep them out of history files):")
        for line in world.exports:
            echo(f"  {line}")
        crm = world.env["SKLADBRIDGE_DEMO_CRM_URL"]
        echo("Orders: the shop site's own API key (orders/create with it is the site's, the hub reads them):")
        echo(f"  export SKLADBRIDGE_DEMO_CRM_SITE_KEY='{world.site_key}'")
        body = '{"order": {"status": "new", "firstName": "Ада", "items": [{"offer": {"xmlId": "<MoySklad id>"}}]}}'
        echo(
            f"  or as a manager, no key: curl -X POST {crm}/sandbox/orders/create "
            f"-H 'Content-Type: application/json' -d '{body}'"
        )
        echo(f"Then e.g.: skladbridge run full-import --integration {DEMO_INTEGRATION}   (Ctrl-C stops the world)")
        from deployments.demo.keycrm_pair import keycrm_alongside

        ms_url, ms_password = world.env["SKLADBRIDGE_DEMO_MS_URL"], world.env["SKLADBRIDGE_DEMO_MS_PASSWORD"]
        with keycrm_alongside(world.moysklad, ms_url, ms_password, workdir, echo):  # the keyCRM pair too
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                echo("stopped")


#: the demo's variables that hold secrets: the written config keeps them as references
SECRET_VARS = frozenset(
    {
        "SKLADBRIDGE_DEMO_MS_PASSWORD",
        "SKLADBRIDGE_DEMO_CRM_KEY",
        "SKLADBRIDGE_DEMO_FEED_SECRET",
        "SKLADBRIDGE_DEMO_WEBHOOK_SECRET",
    }
)


@dataclass
class DemoWorld:
    """The running sandboxes and where the demo's files are."""

    workdir: Path
    config_path: Path
    moysklad: MoySkladSandbox
    retailcrm: RetailCRMSandbox
    feed_url: str
    site_key: str = ""  # the shop site's own CRM key (its orders are the shop's, not the hub's)


@contextmanager
def demo_world(
    workdir: Path, products: int, *, seed: int = 0, stores: int = 4, bundles_ratio: float = 0.0
) -> Iterator[DemoWorld]:
    """Start the sandboxes and the feed server, write the config, set its environment; stop on exit.

    The CRM starts with no catalog here: the demo shows the hub's first run bringing it.
    """
    template = demo_template()
    config_path = workdir / "skladbridge.yaml"
    with open_world(workdir, products, seed=seed, stores=stores, bundles_ratio=bundles_ratio) as world:
        # the written config keeps secrets as references; addresses are filled in, so the hub can be
        # inspected (journal, queue) after the demo with no environment set. The feed URL holds the
        # feed's secret, but that server dies with the demo.
        text = template.read_text(encoding="utf-8")
        for key, value in world.env.items():
            if key not in SECRET_VARS:
                text = text.replace("${" + key + "}", value)
        config_path.write_text(text, encoding="utf-8")
        saved = {k: os.environ.get(k) for k in world.env}
        os.environ.update(world.env)
        try:
            yield DemoWorld(workdir, config_path, world.moysklad, world.retailcrm, world.feed_url, world.site_key)
        finally:
            for key, previous in saved.items():
                if previous is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = previous
