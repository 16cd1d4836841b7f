"""The keyCRM pair offline: MoySklad and keyCRM sandboxes on loopback, the hub between them.

``skladbridge demo --pair keycrm`` runs :func:`run_keycrm_demo`; the e2e tests and
``sandbox serve --world demo`` start the same world through :func:`keycrm_world`. keyCRM's catalog
is seeded from MoySklad's assortment with SKU = MoySklad ``code`` (what ``offer_key: code`` in
``examples/keycrm.yaml`` matches by), as a shop whose keyCRM catalog was loaded from its stock
system would have it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.keycrm.sandbox import KeyCRMSandbox
from connectors.moysklad.sandbox import MoySkladSandbox
from connectors.moysklad.sandbox.generator import seed_catalog
from connectors.sandboxing import LoopbackServer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
INTEGRATION = "keycrm"
MS_LOGIN = "admin@demo"
#: what stays a ``${VAR}`` reference in the written config
SECRET_VARS = ("SKLADBRIDGE_KC_MS_PASSWORD", "SKLADBRIDGE_KC_KEY", "SKLADBRIDGE_KC_HOOK_TOKEN")


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
    ms_password, kc_key, hook_token = (secrets.token_urlsafe(n) for n in (12, 16, 24))
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


def run_keycrm_demo(workdir: Path, products: int, echo: Callable[[str], Any]) -> None:  # pragma: no cover - CLI
    raise NotImplementedError("the keyCRM demo is added in a later step")
