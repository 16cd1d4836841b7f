"""retailCRM (Simla.com) API v5 connector: client, conversion, ICML catalog feed and sandbox.

Its face to the hub is :data:`CONNECTOR`: the settings model (:mod:`.settings`) and the capabilities
it implements (:mod:`.capabilities`): the catalog through an ICML feed, stock and prices uploads;
orders read from the history and statuses set back (:mod:`.capabilities.orders`, over :mod:`.client`,
:mod:`.convert.orders` and :mod:`.wire.history`); and, when a storefront is the order source, orders
received exactly once, customers found or created and statuses read back (:mod:`.capabilities.order_sink`,
:mod:`.capabilities.customer_book`).
"""

from __future__ import annotations

from connectors.retailcrm.capabilities.catalog import RetailCRMFeed, RetailCRMPrices, RetailCRMStock, retailcrm_client
from connectors.retailcrm.capabilities.cost_prices import RetailCRMCostPrices
from connectors.retailcrm.capabilities.customer_book import RetailCRMCustomers
from connectors.retailcrm.capabilities.lookup import RetailCRMLookup
from connectors.retailcrm.capabilities.order_fields import RetailCRMOrderFields
from connectors.retailcrm.capabilities.order_sink import RetailCRMOrderSink
from connectors.retailcrm.capabilities.orders import RetailCRMOrders
from connectors.retailcrm.capabilities.payments import RetailCRMPayments
from connectors.retailcrm.capabilities.two_way import RetailCRMTwoWay
from connectors.retailcrm.settings import RetailCRMSettings
from hub.capabilities import (
    CatalogFeedSink,
    CostPriceSink,
    CustomerBook,
    Lookup,
    OrderFieldSink,
    OrderSink,
    OrderSource,
    OrderStates,
    PaymentSink,
    PriceSink,
    Reachable,
    StaffBook,
    StatusSink,
    StockSink,
)
from hub.capabilities.two_way import CustomerCards, CustomerChanges, OrderContentSink
from hub.systems import Connector

CONNECTOR = Connector(
    name="retailcrm",
    title="retailCRM",
    settings=RetailCRMSettings,
    client=retailcrm_client,
    capabilities={
        CatalogFeedSink: RetailCRMFeed.over,
        StockSink: RetailCRMStock.over,
        PriceSink: RetailCRMPrices.over,
        Reachable: RetailCRMFeed.over,
        OrderSource: RetailCRMOrders.over,
        StatusSink: RetailCRMOrders.over,
        OrderSink: RetailCRMOrderSink.over,
        CustomerBook: RetailCRMCustomers.over,
        OrderStates: RetailCRMOrderSink.over,
        Lookup: RetailCRMLookup.over,
        CostPriceSink: RetailCRMCostPrices.over,
        PaymentSink: RetailCRMPayments.over,
        OrderFieldSink: RetailCRMOrderFields.over,
        StaffBook: RetailCRMOrderFields.over,
        CustomerCards: RetailCRMTwoWay.over,
        CustomerChanges: RetailCRMTwoWay.over,
        OrderContentSink: RetailCRMTwoWay.over,
    },
    sandbox="connectors.retailcrm.sandbox.kit:conformance_kit",
)

__all__ = ["CONNECTOR", "RetailCRMSettings"]
