"""A keyCRM account's settings in the integration config (``system: keycrm``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, HttpUrl

from connectors.keycrm.wire.conventions import API_URL, STOCK_BATCH
from hub.systems import SecretRef, SystemSettings


class KeyCRMSettings(SystemSettings):
    """A keyCRM account seen through one API key (Settings → General → "API key")."""

    system: Literal["keycrm"]
    base_url: HttpUrl = Field(default=HttpUrl(API_URL), description="the OpenAPI root (v1)")
    api_key: SecretRef
    warehouses: dict[str, int] = Field(
        default_factory=dict,
        description="warehouse code used in mappings.stores -> keyCRM warehouse id (API v1 lists no "
        "warehouses: the ids are read off the keyCRM warehouse page by hand)",
    )
    offer_key: Literal["article", "code"] = Field(
        default="article", description="the stock system's field a keyCRM offer SKU equals"
    )
    batch_size: int = Field(
        default=STOCK_BATCH, ge=1, le=STOCK_BATCH, description="offers per PUT /offers/stocks (the API takes 10 000)"
    )
    confirm_seconds: float = Field(
        default=15.5,
        ge=0,
        le=300,
        description="how long a 202 stock write is read back for before its batch is left queued and re-sent; "
        "0: taken as written",
    )
