"""keyCRM OpenAPI v1 connector: client, conversion, capabilities and sandbox.

Its face to the hub is :data:`CONNECTOR`: the settings (:mod:`.settings`) and what it implements —
stock written per warehouse by SKU and its echo told apart (:mod:`.capabilities.stock`), orders
read and statuses set back (:mod:`.capabilities.orders`).
"""

from __future__ import annotations

from connectors.keycrm.capabilities.orders import KeyCRMOrders
from connectors.keycrm.capabilities.stock import KeyCRMStock, keycrm_client
from connectors.keycrm.settings import KeyCRMSettings
from hub.capabilities import OrderEvents, OrderSource, Reachable, StatusSink, StockEchoes, StockSink
from hub.systems import Connector

CONNECTOR = Connector(
    name="keycrm",
    title="keyCRM",
    settings=KeyCRMSettings,
    client=keycrm_client,
    capabilities={
        StockSink: KeyCRMStock.over,
        StockEchoes: KeyCRMStock.over,
        Reachable: KeyCRMStock.over,
        OrderSource: KeyCRMOrders.over,
        OrderEvents: KeyCRMOrders.over,
        StatusSink: KeyCRMOrders.over,
    },
    sandbox="connectors.keycrm.sandbox.kit:conformance_kit",
    order_poll_seconds=60.0,  # the safety-net poll: 1 request a minute of keyCRM's 60 (2 s would spend half of them)
)

__all__ = ["CONNECTOR", "KeyCRMSettings"]
