"""A YML channel as the hub sees it: a feed the channel loads on its own schedule, which carries the
stock and prices too.

There is no API to call: the channel's "reference books" are the config's (its outlets, and the two
price codes a YML offer has), and stock and price "uploads" are accepted once the feed holding them
is in place — the tasks rewrite the feed before they count a batch as sent (:class:`FeedCarried`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from connectors.yml.convert.catalog_feed import (
    OLD_PRICE,
    PRICE,
    GroupNumbers,
    stock_by_outlet,
    yml_categories,
    yml_offers,
)
from connectors.yml.convert.yml import YmlOffer, YmlShop, write_yml
from connectors.yml.settings import YmlSettings
from hub.capabilities import ChannelReference, Delivery, Entry, FeedSlice
from hub.systems import SecretResolver


class _Feed:
    """What every YML capability shares: the settings; nothing to send through."""

    carried_by_feed = True  # stock and prices travel in the feed
    whole_units = True  # <count> and <outlet instock> are integers
    max_batch = 5000  # one "batch" is one slice of the feed: no request limits it

    def __init__(self, settings: YmlSettings) -> None:
        self.settings = settings

    @classmethod
    def over(cls, client: None, settings: YmlSettings) -> Any:
        return cls(settings)

    def ref(self, entry: Entry) -> str:
        return str(entry["offer"])

    async def channel_reference(self, *, with_catalog_stamp: bool = False) -> ChannelReference:
        # price: the offer's price; oldprice: the crossed-out one (shown only when above the price)
        return ChannelReference(warehouses=list(self.settings.outlets), price_types={PRICE: True, OLD_PRICE: False})

    async def check_access(self) -> str:
        return (
            f"a feed channel: nothing to sign in to; the portal loads the feed ({len(self.settings.outlets)} outlets)"
        )

    async def send(self, entries: Sequence[Entry]) -> Delivery:
        # the values are in the feed the same run wrote before its batches are drained
        return Delivery(len(entries))


class YmlStock(_Feed):
    """``StockSink`` whose stock is the feed's ``<count>`` and ``<outlets>``."""

    def stock_entries(self, stock: pd.DataFrame) -> list[Entry]:
        return [{"offer": o, "outlets": outlets} for o, outlets in sorted(stock_by_outlet(stock).items())]


class YmlPrices(_Feed):
    """``PriceSink`` whose prices are the feed's ``<price>`` and ``<oldprice>``."""

    def price_entries(self, prices: pd.DataFrame, price_types: Mapping[str, str]) -> list[Entry]:
        by_offer: dict[str, dict[str, int]] = {}
        for o, t, a in zip(prices["offer_id"], prices["price_type_id"], prices["amount"], strict=True):
            code = price_types.get(str(t))
            if code is not None and not pd.isna(a):
                by_offer.setdefault(str(o), {})[code] = int(a)
        return [{"offer": o, "prices": p} for o, p in sorted(by_offer.items())]


class YmlFeed(_Feed):
    """``CatalogFeedSink``: the YML file the channel fetches from the hub's feed server."""

    def __init__(self, settings: YmlSettings) -> None:
        super().__init__(settings)
        self._groups = GroupNumbers()  # one numbering per feed pass

    def feed_items(self, part: FeedSlice) -> Iterator[YmlOffer]:
        return yml_offers(
            part,
            currency=self.settings.currency,
            groups=self._groups,
            pictures_per_offer=self.settings.pictures,
            description_length=self.settings.description_length,
            default_category=self.settings.default_category,
        )

    def write_feed(
        self, path: Path, *, shop_name: str, company: str, categories: pd.DataFrame, items: Iterable[Any]
    ) -> int:
        shop = YmlShop(shop_name, company, str(self.settings.base_url), self.settings.currency)
        root = None if self.settings.default_category else shop_name  # items in no folder go there
        return write_yml(path, shop=shop, categories=yml_categories(categories, root), offers=items)

    async def catalog_stamp(self) -> str | None:
        return None  # the portal does not say when it loaded the feed

    async def knows_offers(self, offer_ids: Sequence[str]) -> bool:
        return True  # nothing to wait for: stock and prices are in the feed itself


@asynccontextmanager
async def yml_client(settings: YmlSettings, secret: SecretResolver) -> AsyncIterator[None]:
    """No client: a feed channel is never called (the portal calls us)."""
    yield None
