"""A retailCRM account's settings in the integration config (``system: retailcrm``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hub.systems import SecretRef, SystemSettings


class RetailCRMSettings(SystemSettings):
    """A retailCRM account (``https://<account>.retailcrm.ru``; ``/api/v5`` is appended)."""

    system: Literal["retailcrm"]
    api_key: SecretRef
    site: str | None = Field(default=None, description="site (store) code when the key covers several")
    batch_size: int = Field(
        default=250, ge=1, le=250, description="offers per stock or price upload (the API takes at most 250)"
    )
