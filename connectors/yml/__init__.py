"""YML channel: the catalog, prices and stock as a Yandex Market Language feed that a portal,
storefront or marketplace loads on its own schedule (Agora's YML import, Prom, Rozetka, Horoshop,
Yandex Market).

A feed-only channel: no API of its own to call, so no ``client.py`` or ``wire/``. Its face to the
hub is :data:`CONNECTOR`: the feed (:class:`~hub.capabilities.CatalogFeedSink`), and the stock and
prices the feed carries (``StockSink``, ``PriceSink``, both :class:`~hub.capabilities.FeedCarried`:
they reach the channel when the feed is rewritten). Its sandbox is a portal that fetches and
strictly checks the feed (:mod:`.sandbox.portal`).
"""

from __future__ import annotations

from connectors.yml.capabilities.feed import YmlFeed, YmlPrices, YmlStock, yml_client
from connectors.yml.settings import YmlSettings
from hub.capabilities import CatalogFeedSink, PriceSink, Reachable, StockSink
from hub.systems import Connector

CONNECTOR = Connector(
    name="yml",
    title="YML feed",
    settings=YmlSettings,
    client=yml_client,
    capabilities={
        CatalogFeedSink: YmlFeed.over,
        StockSink: YmlStock.over,
        PriceSink: YmlPrices.over,
        Reachable: YmlFeed.over,
    },
    sandbox="connectors.yml.sandbox.kit:conformance_kit",
)

__all__ = ["CONNECTOR", "YmlSettings"]
