"""Horoshop (Хорошоп) storefront API connector.

The connector shape every system follows (``docs/architecture.md``):

* :mod:`.settings` — :class:`HoroshopSettings`: the shop, its API admin, the hourly quota it paces by;
* :mod:`.wire` — the envelope and what each status stands for, the limits, the shop's local time;
* :mod:`.client` — :class:`~.client.HoroshopClient`: sign-in and the 600 s token in every body,
  the hourly budget, offset paging, the functions the exchanges call;
* :mod:`.convert` — ``orders/get`` rows ⇄ canonical frames, with the field reports' traps;
* :mod:`.capabilities` — its face to the hub: orders read by window (``OrderSource``), statuses set
  (``StatusSink``), the catalog for the CRM's feed (``CatalogSource``);
* :mod:`.sandbox` — :class:`~.sandbox.HoroshopSandbox`, an ASGI emulator with the shop's rules.
"""

from __future__ import annotations

from connectors.horoshop.capabilities.catalog import HoroshopCatalog
from connectors.horoshop.capabilities.orders import HoroshopOrders
from connectors.horoshop.client import horoshop_client
from connectors.horoshop.settings import HoroshopSettings
from hub.capabilities import CatalogSource, OrderSource, Reachable, StatusSink
from hub.systems import Connector

CONNECTOR = Connector(
    name="horoshop",
    title="Horoshop",
    settings=HoroshopSettings,
    client=horoshop_client,
    capabilities={
        Reachable: HoroshopOrders.over,
        OrderSource: HoroshopOrders.over,
        StatusSink: HoroshopOrders.over,
        CatalogSource: HoroshopCatalog.over,
    },
    sandbox="connectors.horoshop.sandbox.kit:conformance_kit",
    order_poll_seconds=60.0,  # 1 orders/get a minute: 2 s would be 1 800 calls an hour, over a tariff's quota
)

__all__ = ["CONNECTOR", "HoroshopSettings"]
