"""The benchmark's world: the demo sandboxes with 10 stores, real weights and a chosen credential.

Built on :func:`deployments.demo.demo_world` (MoySklad + retailCRM sandboxes + feed server on
loopback, hub database, config). On top of it, without touching those files:

- every MoySklad store is mapped to a CRM warehouse (the demo config maps only 4 stores);
- ``auth="app"`` registers a solution token with the sandbox and points the config at it
  (weight 1); ``auth="login"`` keeps the demo's login/password (dated weight);
- ``weight_day`` pins the calendar day of the weight table on the sandbox (its ``today``) and on
  every MoySklad client (the config has no such setting, so :func:`pinned_weight_day` patches
  ``MoySkladClient.weight_day`` for the run, the same effect as the client's ``today=`` argument).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml

from deployments.demo import DEMO_INTEGRATION, MS_LOGIN, DemoWorld, demo_world

Auth = Literal["login", "app"]
TOKEN_ENV = "SKLADBRIDGE_BENCH_MS_TOKEN"
CRM_CODES = ("msk", "spb")


@dataclass
class BenchWorld:
    """The running demo world, the benchmark's config and the MoySklad credential in use."""

    demo: DemoWorld
    config_path: Path
    auth: Auth
    ms_url: str
    credential: dict[str, str]


def store_mapping(world: DemoWorld) -> dict[str, str]:
    """Every MoySklad store onto the CRM's two warehouses, alternately (none left out)."""
    names = sorted(
        (s["name"] for s in world.moysklad.store.of_type("store").values()),
        key=lambda n: (n != "Основной склад", len(n), n),
    )
    return {name: CRM_CODES[i % len(CRM_CODES)] for i, name in enumerate(names)}


@contextmanager
def bench_world(
    workdir: Path, products: int, *, auth: Auth, weight_day: date | None, stores: int = 10, seed: int = 0
) -> Iterator[BenchWorld]:
    """Start the demo world and write the benchmark's config next to the demo's."""
    with demo_world(workdir, products, seed=seed, stores=stores) as world:
        if weight_day is not None:
            world.moysklad.today = weight_day
        config: dict[str, Any] = yaml.safe_load(world.config_path.read_text(encoding="utf-8"))
        integ = config["integrations"][DEMO_INTEGRATION]
        integ["mappings"]["stores"] = store_mapping(world)
        ms_url = os.environ["SKLADBRIDGE_DEMO_MS_URL"]
        saved = os.environ.get(TOKEN_ENV)
        if auth == "app":
            token = secrets.token_urlsafe(24)
            world.moysklad.tokens[token] = "app"
            os.environ[TOKEN_ENV] = token
            ms = integ["systems"]["ms"]
            for key in ("login", "password"):
                ms.pop(key, None)
            ms.update({"token": "${" + TOKEN_ENV + "}", "token_kind": "app"})
            credential = {"token": token}
        else:
            credential = {"login": MS_LOGIN, "password": os.environ["SKLADBRIDGE_DEMO_MS_PASSWORD"]}
        config_path = workdir / "bench.yaml"
        config_path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
        try:
            with pinned_weight_day(weight_day):
                yield BenchWorld(world, config_path, auth, ms_url, credential)
        finally:
            if saved is None:
                os.environ.pop(TOKEN_ENV, None)
            else:
                os.environ[TOKEN_ENV] = saved


@contextmanager
def pinned_weight_day(day: date | None) -> Iterator[None]:
    """Make every MoySklad client read the weight table for ``day`` (no-op for ``None``)."""
    from connectors.moysklad.client import MoySkladClient

    if day is None:
        yield
        return
    original = MoySkladClient.weight_day

    def weight_day(self: MoySkladClient) -> date:
        return self.today or day

    MoySkladClient.weight_day = weight_day  # type: ignore[method-assign]
    try:
        yield
    finally:
        MoySkladClient.weight_day = original  # type: ignore[method-assign]
