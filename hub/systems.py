"""Which systems exist, what settings each takes, and which canonical streams each can read or write.

The integration config is validated against this table at load time, so a directed edge such as
``stock: {from: crm, to: ms}`` is refused before anything runs when a connector cannot do it.
A new system is one more entry here plus its package; no flow changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

#: the streams an integration routes between systems (``flows:`` keys in the config)
STREAMS = ("catalog", "stock", "prices", "orders", "statuses", "customers", "payments")


#: A reference to a secret (``${ENV_VAR}`` or ``prefect-secret:<block>``), never the value. The
#: config holds only references; :func:`hub.config.resolve_secret` turns one into the value when a
#: client is built, and the value is registered for redaction there.
SecretRef = Annotated[
    str,
    Field(pattern=r"^(\$\{[A-Za-z_][A-Za-z0-9_]*\}|prefect-secret:.+)$",
          description="${ENV_VAR} or prefect-secret:<block>"),
]


class SystemSettings(BaseModel):
    """Settings every system entry has."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    system: str
    base_url: HttpUrl


class MoySkladSettings(SystemSettings):
    """A MoySklad account. Either ``token`` or ``login`` + ``password``."""

    system: Literal["moysklad"]
    base_url: HttpUrl = Field(default=HttpUrl("https://api.moysklad.ru/api/remap/1.2"))
    token: SecretRef | None = Field(default=None, description="Bearer token (user or solution)")
    token_kind: Literal["user", "app"] = Field(
        default="user", description="'app' for a Marketplace solution token (weight 1, not 4)"
    )
    login: str | None = Field(default=None, description="user@account, with password")
    password: SecretRef | None = None


class RetailCRMSettings(SystemSettings):
    """A retailCRM account (``https://<account>.retailcrm.ru``; ``/api/v5`` is appended)."""

    system: Literal["retailcrm"]
    api_key: SecretRef
    site: str | None = Field(default=None, description="site (store) code when the key covers several")


@dataclass(frozen=True)
class ConnectorInfo:
    """What the config needs to know about one system."""

    settings: type[SystemSettings]
    reads: frozenset[str]
    writes: frozenset[str]


CONNECTORS: dict[str, ConnectorInfo] = {
    "moysklad": ConnectorInfo(
        settings=MoySkladSettings,
        reads=frozenset({"catalog", "stock", "prices", "orders", "statuses", "customers"}),
        writes=frozenset({"orders", "statuses", "customers", "payments"}),
    ),
    "retailcrm": ConnectorInfo(
        settings=RetailCRMSettings,
        reads=frozenset({"orders", "statuses", "customers", "payments"}),
        writes=frozenset({"catalog", "stock", "prices", "orders", "statuses", "customers", "payments"}),
    ),
}
