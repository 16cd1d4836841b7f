"""The keyCRM pair offline: MoySklad and keyCRM sandboxes on loopback, the hub between them.

``skladbridge demo --pair keycrm`` runs :func:`run_keycrm_demo`; the e2e tests and
``sandbox serve --world demo`` start the same world through :func:`keycrm_world`. keyCRM's catalog
is seeded from MoySklad's assortment with SKU = MoySklad ``code`` (what ``offer_key: code`` in
``examples/keycrm.yaml`` matches by), as a shop whose keyCRM catalog was loaded from its stock
system would have it.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from connectors.keycrm.sandbox import KeyCRMSandbox
from connectors.moysklad.sandbox import MoySkladSandbox
from connectors.moysklad.sandbox.generator import seed_catalog
from connectors.sandboxing import LoopbackServer
from deployments.demo.errors import DemoError
from hub.exchanges import RunResult, ran, skipped_reason

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
INTEGRATION = "keycrm"
MS_LOGIN = "admin@demo"
#: what stays a ``${VAR}`` reference in the written config
SECRET_VARS = (
    "SKLADBRIDGE_KC_MS_PASSWORD",
    "SKLADBRIDGE_KC_KEY",
    "SKLADBRIDGE_KC_HOOK_TOKEN",
    "SKLADBRIDGE_KC_STOCK_HOOK_TOKEN",
)
#: how long the demo waits for an order or a stock change before it says it did not arrive
ARRIVAL_SECONDS = 60.0


@dataclass
class KeyCRMWorld:
    """The running pair: both sandboxes, the config written for them, its environment."""

    workdir: Path
    config_path: Path
    moysklad: MoySkladSandbox
    keycrm: KeyCRMSandbox
    env: dict[str, str] = field(default_factory=dict)
    servers: dict[str, str] = field(default_factory=dict)


def sellable(moysklad: MoySkladSandbox) -> list[tuple[str, str, float]]:
    """``(code, name, price)`` of MoySklad's live stocked offers (products without variants, variants)."""
    entities = moysklad.store.entities
    out: list[tuple[str, str, float]] = []
    for kind in ("product", "variant"):
        for obj in entities[kind].values():
            if obj.get("archived") or (kind == "product" and obj.get("variantsCount")) or not obj.get("code"):
                continue
            prices = obj.get("salePrices") or []
            out.append((str(obj["code"]), str(obj["name"]), float(prices[0]["value"]) / 100 if prices else 0.0))
    return out


@contextmanager
def keycrm_world(
    workdir: Path, products: int, *, seed: int = 0, ms_port: int | None = None, kc_port: int | None = None
) -> Iterator[KeyCRMWorld]:
    """Start both sandboxes on 127.0.0.1, write ``skladbridge.yaml`` and set its environment; undo on exit."""
    workdir.mkdir(parents=True, exist_ok=True)
    for stale in workdir.glob("skladbridge.db*"):
        stale.unlink()  # fresh sandboxes need a fresh hub: its snapshots would say keyCRM has everything
    ms_password, kc_key, hook_token, stock_token = (secrets.token_urlsafe(n) for n in (12, 16, 24, 24))
    moysklad = MoySkladSandbox(token=None, login=MS_LOGIN, password=ms_password, token_kind="user", seed=seed)
    seed_catalog(moysklad, products, variants_ratio=0.3, stores=4, price_types=2, images_ratio=0.0, seed=seed)
    keycrm = KeyCRMSandbox(api_key=kc_key)
    keycrm.add_offers(sellable(moysklad))
    config_path = workdir / "skladbridge.yaml"
    with ExitStack() as stack:
        ms = stack.enter_context(LoopbackServer(moysklad.app, port=ms_port))
        kc = stack.enter_context(LoopbackServer(keycrm.app, port=kc_port))
        env = {
            "SKLADBRIDGE_KC_DATABASE_URL": f"sqlite:///{(workdir / 'skladbridge.db').resolve()}",
            "SKLADBRIDGE_KC_MS_URL": f"{ms.url}/api/remap/1.2",
            "SKLADBRIDGE_KC_MS_PASSWORD": ms_password,
            "SKLADBRIDGE_KC_URL": f"{kc.url}/v1",
            "SKLADBRIDGE_KC_KEY": kc_key,
            "SKLADBRIDGE_KC_HOOK_TOKEN": hook_token,
            "SKLADBRIDGE_KC_STOCK_HOOK_TOKEN": stock_token,
        }
        text = (EXAMPLES / "keycrm.yaml").read_text(encoding="utf-8")
        for key, value in env.items():
            if key not in SECRET_VARS:
                text = text.replace("${" + key + "}", value)
        config_path.write_text(text, encoding="utf-8")
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            yield KeyCRMWorld(workdir, config_path, moysklad, keycrm, env, {"moysklad": ms.url, "keycrm": kc.url})
        finally:
            for key, previous in saved.items():
                if previous is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = previous


def keycrm_stock(world: KeyCRMWorld) -> dict[str, dict[int, float]]:
    """What keyCRM holds: SKU → warehouse id → quantity (applied writes only)."""
    state = world.keycrm.state
    out: dict[str, dict[int, float]] = {}
    for (offer_id, wid), (quantity, _) in state.stock.items():
        out.setdefault(str(state.offers[offer_id]["sku"]), {})[wid] = quantity
    return out


@dataclass(frozen=True)
class Trip:
    """One thing timed through the hub: what, from where to where, seconds (None: did not arrive)."""

    what: str
    seconds: float | None
    requests: int  # requests the hub made to keyCRM meanwhile


def _wait(arrived: Callable[[], bool]) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < ARRIVAL_SECONDS:
        if arrived():
            return time.monotonic() - started
        time.sleep(0.02)
    return None


def order_trip(world: KeyCRMWorld, receiver_url: str) -> Trip:
    """A manager's order in keyCRM: its trigger webhook reaches the hub, the order reaches MoySklad."""
    kc = world.keycrm
    token = world.env["SKLADBRIDGE_KC_HOOK_TOKEN"]
    kc.add_order_trigger(f"{receiver_url}/hooks/keycrm/{INTEGRATION}/{token}")
    skus = [o["sku"] for o in list(kc.state.offers.values())[:2]]
    body = {
        "buyer": {"full_name": "Олена Коваль", "phone": "+380501234567"},
        "products": [
            {"sku": skus[0], "quantity": 1},
            {"name": "Сорочка", "price": 450, "properties": [{"name": "Колір", "value": "біла"}]},
        ],
    }
    before = len(kc.log)
    started = time.monotonic()
    answer = httpx.post(f"{world.servers['keycrm']}/sandbox/orders", json=body, timeout=30)
    answer.raise_for_status()
    order_id = str(answer.json()["id"])
    codes = lambda: {str(o.get("externalCode")) for o in world.moysklad.store.of_type("customerorder").values()}  # noqa: E731
    seconds = _wait(lambda: order_id in codes())
    if seconds is not None:
        seconds = time.monotonic() - started
    return Trip(f"keyCRM order {order_id} (a catalog offer and a one-time product)", seconds, len(kc.log) - before)


async def _ship(world: KeyCRMWorld, offer: str, store_name: str, units: float) -> None:
    """A shipment (demand) from ``store_name`` through MoySklad's API, as any shop's app makes it."""
    from connectors.moysklad.client import MoySkladClient

    ms = world.moysklad
    org = next(iter(ms.store.of_type("organization")))
    store = next(s for s in ms.store.of_type("store").values() if s["name"] == store_name)
    async with MoySkladClient(
        world.env["SKLADBRIDGE_KC_MS_URL"], login=ms.login, password=world.env["SKLADBRIDGE_KC_MS_PASSWORD"]
    ) as client:
        agent = (await client.create_counterparty({"name": "Покупець демо"}))["id"]
        await client.create_demand(
            {
                "organization": client.ref(f"entity/organization/{org}", "organization"),
                "agent": client.ref(f"entity/counterparty/{agent}", "counterparty"),
                "store": client.ref(f"entity/store/{store['id']}", "store"),
                "positions": [
                    {"quantity": units, "price": 100.0, "assortment": client.ref(f"entity/product/{offer}", "product")}
                ],
            }
        )


async def _subscribe(world: KeyCRMWorld, public_url: str) -> list[str]:
    """What ``skladbridge webhooks register`` does: MoySklad's stock webhooks to the hub's receiver."""
    from deployments.service.webhooks import hook_url, receiving_hooks
    from hub.capabilities import StockEvents
    from hub.config import load_config
    from tasks.clients import open_capability

    config = load_config(world.config_path)
    hook = next(h for h in receiving_hooks(config).values() if h.integration == INTEGRATION)
    url = hook_url(public_url, hook.system, INTEGRATION, hook.token.decode())
    ours = hook_url(public_url, hook.system, INTEGRATION, "")
    async with open_capability(config.integrations[INTEGRATION], hook.alias, StockEvents) as events:
        return await events.subscribe(url, ours=ours)


def stock_trip(world: KeyCRMWorld, receiver_url: str, units: int = 1) -> Trip | None:
    """A shipment in MoySklad: its webhook reaches the hub, the new on-hand stock reaches keyCRM."""
    ms = world.moysklad
    store = next(s for s in ms.store.of_type("store").values() if s["name"] == "Основной склад")
    picked = None
    for row in ms.ledger.report(by_store=True, stock_type="stock", include_zero=False):
        product = ms.store.get("product", row["assortmentId"]) or {}
        plain = product.get("code") and not product.get("variantsCount") and not product.get("archived")
        if row.get("storeId") == store["id"] and float(row["stock"]) >= units and plain:
            picked = (str(row["assortmentId"]), str(product["code"]))
            break
    if picked is None:
        return None
    offer, sku = picked
    asyncio.run(_subscribe(world, receiver_url))
    before = keycrm_stock(world).get(sku, {}).get(1, 0.0)
    requests = len(world.keycrm.log)
    started = time.monotonic()
    asyncio.run(_ship(world, offer, "Основной склад", units))
    seconds = _wait(lambda: keycrm_stock(world).get(sku, {}).get(1) == before - units)
    seconds = None if seconds is None else time.monotonic() - started
    return Trip(
        f"{units} of {sku} shipped from Основной склад ({before:g} → {before - units:g} at keyCRM warehouse 1)",
        seconds,
        len(world.keycrm.log) - requests,
    )


def _ran(result: RunResult) -> dict[str, Any]:
    """The summary of a run of the demo's own world (a skipped one is the demo failing)."""
    if (summary := ran(result)) is None:
        raise DemoError(f"the stock sync did not run: {skipped_reason(result)}")
    return summary


def run_keycrm_demo(workdir: Path, products: int = 300, echo: Callable[[str], Any] = print) -> dict[str, Any]:
    """The keyCRM pair offline: stock to keyCRM, then an order and a stock change timed through webhooks."""
    from deployments.schedule.prefect_env import configure
    from deployments.service.webhooks import webhook_app

    configure(workdir / ".prefect")
    started = time.monotonic()
    echo(f"Starting the sandboxes: MoySklad with {products} generated products, keyCRM with the same SKUs ...")
    with keycrm_world(workdir, products) as world:
        from flows.order_upload import order_upload
        from flows.stock_sync import stock_sync

        echo("First stock sync (reads MoySklad's catalog into the hub, writes on-hand stock to keyCRM) ...")
        first = _ran(stock_sync(INTEGRATION, config_path=str(world.config_path)))
        order_upload(INTEGRATION, config_path=str(world.config_path))  # the cursor: orders from now on
        app = webhook_app(world.config_path)
        receiver = app.state.receiver
        try:
            with LoopbackServer(app) as server:
                echo("Placing an order in keyCRM: its trigger webhook should bring it to MoySklad ...")
                order = order_trip(world, server.url)
                receiver.orders.trigger.wait_idle(ARRIVAL_SECONDS)
                echo("Shipping a product in MoySklad: its webhook should bring the new stock to keyCRM ...")
                stock = stock_trip(world, server.url)
                receiver.trigger.wait_idle(ARRIVAL_SECONDS)
        finally:
            receiver.close()
        echo("")
        echo("== keyCRM pair " + "=" * 61)
        echo(f"  first stock sync: {first['offers_sent']} offers in {first['batches_sent']} batch(es) to keyCRM")
        for trip in (order, stock):
            if trip is None:
                echo("  no stocked product to ship: skipped")
            elif trip.seconds is None:
                echo(f"  {trip.what}: did NOT arrive within {ARRIVAL_SECONDS:.0f} s (see `skladbridge journal`)")
            else:
                echo(f"  {trip.what}: arrived in {trip.seconds:.1f} s ({trip.requests} keyCRM requests meanwhile)")
        echo(f"  config {world.config_path}; hub {world.workdir / 'skladbridge.db'}")
        echo(f"Done in {time.monotonic() - started:.0f} s.")
    missing = [t.what for t in (order, stock) if t is not None and t.seconds is None]
    failed = f"did not arrive within {ARRIVAL_SECONDS:.0f} s: {missing}" if missing else None
    return {"first": first, "order": order, "stock": stock, "failed": failed}


@contextmanager
def keycrm_alongside(
    moysklad: MoySkladSandbox, ms_url: str, ms_password: str, workdir: Path, echo: Callable[[str], Any] = print
) -> Iterator[KeyCRMSandbox]:
    """``sandbox serve --world demo``'s keyCRM: a keyCRM sandbox whose SKUs are the world's MoySklad
    codes, on a free loopback port, with ``examples/keycrm.yaml`` written and its exports printed."""
    kc_key, hook_token, stock_token = (secrets.token_urlsafe(n) for n in (16, 24, 24))
    keycrm = KeyCRMSandbox(api_key=kc_key)
    keycrm.add_offers(sellable(moysklad))
    with LoopbackServer(keycrm.app) as kc:
        config_path = workdir / "keycrm.yaml"
        config_path.write_text((EXAMPLES / "keycrm.yaml").read_text(encoding="utf-8"), encoding="utf-8")
        env = {
            "SKLADBRIDGE_KC_DATABASE_URL": f"sqlite:///{(workdir / 'skladbridge-keycrm.db').resolve()}",
            "SKLADBRIDGE_KC_MS_URL": ms_url,
            "SKLADBRIDGE_KC_MS_PASSWORD": ms_password,
            "SKLADBRIDGE_KC_URL": f"{kc.url}/v1",
            "SKLADBRIDGE_KC_KEY": kc_key,
            "SKLADBRIDGE_KC_HOOK_TOKEN": hook_token,
            "SKLADBRIDGE_KC_STOCK_HOOK_TOKEN": stock_token,
        }
        echo(f"keyCRM sandbox:    {kc.url}/v1  ({len(keycrm.state.offers)} offers, SKU = MoySklad code)")
        echo(f"keyCRM config:     {config_path}  (integration {INTEGRATION}); its variables:")
        for key, value in env.items():
            echo(f"  export {key}='{value}'")
        echo(
            f"  a keyCRM order as a manager: curl -X POST {kc.url}/sandbox/orders -H 'Content-Type: application/json' "
            """-d '{"buyer": {"full_name": "Ада"}, "products": [{"sku": "<MoySklad code>"}]}'"""
        )
        yield keycrm
