"""Clients built from an integration's config; secrets are resolved here and nowhere else."""

from __future__ import annotations

from connectors.moysklad.client import MoySkladClient
from connectors.retailcrm.client import RetailCRMClient
from hub.config import ConfigError, Integration, resolve_secret
from hub.systems import MoySkladSettings, RetailCRMSettings


def moysklad_client(integ: Integration, alias: str) -> MoySkladClient:
    """A MoySklad client for the system ``alias`` of ``integ`` (its budget is shared per credential)."""
    settings = integ.systems[alias]
    if not isinstance(settings, MoySkladSettings):
        raise ConfigError("config", [(f"systems.{alias}", f"expected a moysklad system, got {settings.system}")])
    return MoySkladClient(
        str(settings.base_url).rstrip("/"),
        token=resolve_secret(settings.token),
        login=settings.login,
        password=resolve_secret(settings.password),
        token_kind=settings.token_kind,
    )


def retailcrm_client(integ: Integration, alias: str) -> RetailCRMClient:
    """A retailCRM client for the system ``alias`` of ``integ`` (10 rps shared per key)."""
    settings = integ.systems[alias]
    if not isinstance(settings, RetailCRMSettings):
        raise ConfigError("config", [(f"systems.{alias}", f"expected a retailcrm system, got {settings.system}")])
    api_key = resolve_secret(settings.api_key)
    assert api_key is not None  # the config requires it
    return RetailCRMClient(str(settings.base_url).rstrip("/"), api_key=api_key, site=settings.site)
