"""What a YML channel's entry in the config holds: the shop it describes and how offers are written."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, HttpUrl

from hub.systems import SystemSettings

#: the currency codes YML allows (RUR and RUB both mean the Russian rouble)
YML_CURRENCIES = ("RUR", "RUB", "UAH", "BYN", "KZT", "USD", "EUR")


class YmlSettings(SystemSettings):
    """A shop, portal or marketplace that loads our catalog as a YML feed (Agora, Prom, Rozetka ...).

    There is no account to call: the channel fetches the feed from the hub's feed server on its own
    schedule, so there is no secret here (the feed URL's secret is ``options.feed.path_secret``).
    """

    system: Literal["yml"]
    base_url: HttpUrl = Field(description="the shop's site: the feed's <shop><url>")
    currency: Literal["RUR", "RUB", "UAH", "BYN", "KZT", "USD", "EUR"] = Field(
        default="RUB", description="the currency of every price (<currencyId>, the one <currency rate=1>)"
    )
    outlets: tuple[str, ...] = Field(
        default=(),
        description="the shop's outlet (warehouse) ids: mappings.stores map the source's stores onto them; "
        "each offer carries <outlets><outlet id instock/></outlets>",
    )
    pictures: int = Field(default=10, ge=0, le=30, description="the most <picture> elements an offer carries")
    default_category: str | None = Field(
        default=None,
        description="the portal category (a number) of items in no folder; unset: a category named after "
        "the shop is declared for them (the format wants every offer in a category)",
    )
    description_length: int = Field(
        default=3000, ge=0, le=3000, description="the longest <description> (YML allows 3000 characters)"
    )
