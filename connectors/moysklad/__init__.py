"""MoySklad (МойСклад) JSON API 1.2 connector.

The connector shape every system follows (``docs/architecture.md``):

* :mod:`.settings` — :class:`MoySkladSettings`, the account in the integration config;
* :mod:`.wire` — the API's conventions: published limits and the dated weight table (shared with
  the sandbox), whole pages, references, Moscow wire time;
* :mod:`.client` — :class:`MoySkladClient`: auth, gzip, the weighted 45-unit/3 s budget, concurrent
  paging, catalog/stock reads, orders, documents and webhooks;
* :mod:`.convert` — wire JSON ⇄ canonical frames (:mod:`hub.model`) and payloads;
* :mod:`.capabilities` — its face to the hub: :data:`CONNECTOR` declares the settings model and
  the capabilities (catalog, stock, bundles; orders, their states, counterparties; stock events);
* :mod:`.sandbox` — :class:`MoySkladSandbox`, an ASGI emulator with the real rules, and
  :func:`.sandbox.generator.seed_catalog` to seed it.

The sandbox modules are imported lazily, so the connector never pulls in Starlette.
"""

from __future__ import annotations

from typing import Any

from connectors.moysklad.capabilities.catalog import MoySkladSide, moysklad_client
from connectors.moysklad.capabilities.customers import MoySkladCustomers
from connectors.moysklad.capabilities.documents import MoySkladDocuments
from connectors.moysklad.capabilities.items import MoySkladItems
from connectors.moysklad.capabilities.lookup import MoySkladLookup
from connectors.moysklad.capabilities.order_fields import MoySkladOrderFields
from connectors.moysklad.capabilities.orders import MoySkladOrders
from connectors.moysklad.capabilities.stock_events import MoySkladStockEvents
from connectors.moysklad.capabilities.two_way import MoySkladTwoWay
from connectors.moysklad.settings import MoySkladSettings
from hub.capabilities import (
    BundleSource,
    CatalogSource,
    CustomerBook,
    ItemBook,
    Lookup,
    OrderDocuments,
    OrderFieldSource,
    OrderSink,
    OrderStates,
    PictureSource,
    Reachable,
    StaffBook,
    StockEvents,
    StockSource,
)
from hub.capabilities.two_way import CustomerCards, ErpChangeEvents, OrderContents, RetailSales
from hub.systems import Connector

CONNECTOR = Connector(
    name="moysklad",
    title="MoySklad",
    settings=MoySkladSettings,
    client=moysklad_client,
    capabilities={
        CatalogSource: MoySkladSide.over,
        PictureSource: MoySkladSide.over,
        StockSource: MoySkladSide.over,
        Reachable: MoySkladSide.over,
        BundleSource: MoySkladSide.over,
        StockEvents: MoySkladStockEvents.over,
        OrderSink: MoySkladOrders.over,
        OrderStates: MoySkladOrders.over,
        CustomerBook: MoySkladCustomers.over,
        Lookup: MoySkladLookup.over,
        OrderDocuments: MoySkladDocuments.over,
        ItemBook: MoySkladItems.over,
        OrderFieldSource: MoySkladOrderFields.over,
        StaffBook: MoySkladOrderFields.over,
        CustomerCards: MoySkladTwoWay.over,
        ErpChangeEvents: MoySkladTwoWay.over,
        OrderContents: MoySkladTwoWay.over,
        RetailSales: MoySkladTwoWay.over,
    },
    sandbox="connectors.moysklad.sandbox.kit:conformance_kit",
)

__all__ = ["CONNECTOR", "MoySkladClient", "MoySkladSandbox", "MoySkladSettings", "seed_catalog"]


def __getattr__(name: str) -> Any:
    if name == "MoySkladClient":
        from connectors.moysklad.client import MoySkladClient

        return MoySkladClient
    if name == "MoySkladSandbox":
        from connectors.moysklad.sandbox import MoySkladSandbox

        return MoySkladSandbox
    if name == "seed_catalog":
        from connectors.moysklad.sandbox.generator import seed_catalog

        return seed_catalog
    raise AttributeError(name)
