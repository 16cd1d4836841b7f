"""The few-second order poll: the hub's own recorded writes are no news, a site module's order made with the
hub's key is (it starts an order-upload cycle)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from connectors.retailcrm.client import RetailCRMClient
from connectors.retailcrm.sandbox import RetailCRMSandbox
from connectors.sandboxing import LoopbackServer
from deployments.service.order_poll import OrderPoller, polled
from hub.capabilities import WRITE_STATUS
from hub.config import parse_config
from hub.store import open_store

KEY = "hub-and-site-key"


def wait_for(check: Callable[[], bool], seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_the_poll_ignores_the_hubs_writes_but_not_orders_others_make_with_its_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crm = RetailCRMSandbox(api_key=KEY)
    crm.seed_catalog(3)
    order_id = crm.seed_orders(1)[0]
    offer = next(iter(crm.offers.values()))
    monkeypatch.setenv("POLL_CRM_KEY", KEY)
    monkeypatch.setenv("POLL_MS_TOKEN", "unused")
    with LoopbackServer(crm.app) as server:
        config = parse_config(
            {
                "integrations": {
                    "shop": {
                        "systems": {
                            "ms": {"system": "moysklad", "token": "${POLL_MS_TOKEN}", "token_kind": "app"},
                            "crm": {"system": "retailcrm", "base_url": server.url, "api_key": "${POLL_CRM_KEY}"},
                        },
                        "flows": {"orders": {"from": "crm", "to": "ms"}},
                        "options": {"orders": {"poll_seconds": 0.1}},
                    }
                }
            },
            source=str(tmp_path / "sb.yaml"),
        )
        store = open_store(f"sqlite:///{tmp_path / 'hub.db'}")
        store.cursors.set("shop", "orders", str(crm.history[-1].id))

        async def with_key(call: Callable[[RetailCRMClient], object]) -> object:
            async with RetailCRMClient(server.url, api_key=KEY) as client:
                return await call(client)  # type: ignore[misc]

        # the hub's status write, recorded around the request as the status sync records it
        ids = store.writes.begin("shop", "crm", WRITE_STATUS, {str(order_id): "complete"})
        asyncio.run(with_key(lambda c: c.edit_order(order_id, {"status": "complete"}, by="id")))
        store.writes.end(ids)
        cycles: list[str] = []

        def cycle(name: str) -> dict[str, str]:
            cycles.append(name)
            return {}

        poller = OrderPoller(config, store, cycle).start()
        try:
            assert wait_for(lambda: poller.peeks["shop"] >= 3)
            assert cycles == []  # only the hub's own echo after the cursor
            asyncio.run(with_key(lambda c: c.create_order({"items": [{"offer": {"id": offer["id"]}}]})))
            assert wait_for(lambda: cycles == ["shop"]), poller.peeks  # a site module sharing the key
        finally:
            poller.close()
            store.close()


def test_the_poll_period_is_the_config_s_or_else_the_channel_s_own_share_of_its_budget(tmp_path: Path) -> None:
    """2 s is fine for retailCRM (10 requests a second) but would be half of keyCRM's 60 a minute and
    1 800 calls an hour of a Horoshop quota: each connector declares its own default."""

    def integration(system: str, **orders: object) -> dict[str, object]:
        channel: dict[str, object] = {"system": system, "base_url": "https://shop.example.com"}
        channel.update({"retailcrm": {"api_key": "${K}"}, "keycrm": {"api_key": "${K}"}}.get(system, {}))
        if system == "horoshop":
            channel.update(login="api", password="${K}")
        return {
            "systems": {"ms": {"system": "moysklad", "token": "${T}"}, "shop": channel},
            "flows": {"orders": {"from": "shop", "to": "ms"}},
            "options": {"orders": orders},
        }

    config = parse_config(
        {
            "integrations": {
                "crm": integration("retailcrm"),
                "kc": integration("keycrm"),
                "hs": integration("horoshop"),
                "fast_kc": integration("keycrm", poll_seconds=5),
                "off": {**integration("retailcrm"), "active": False},
            }
        },
        source=str(tmp_path / "sb.yaml"),
        require_secrets=False,
    )
    assert polled(config) == {"crm": 2.0, "fast_kc": 5.0, "hs": 60.0, "kc": 60.0}
