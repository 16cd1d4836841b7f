"""What the sandbox's parts need of the account they serve: a narrow view of :class:`.app.MoySkladSandbox`.

Documents, routes, bundles, webhooks and the generator type against :class:`Account`, so that none of
them imports the app that assembles them (not even for type checking): the app imports its parts,
and no part imports the app.
"""

from __future__ import annotations

from typing import Any, Protocol

from connectors.moysklad.sandbox.state import Json, SandboxStore
from connectors.moysklad.sandbox.stock import StockLedger
from connectors.moysklad.wire.limits import TokenKind


class Writes(Protocol):
    """Document writes with MoySklad's rules (:class:`.documents.Writer`)."""

    def create(self, type_: str, body: Json) -> Json: ...

    def update(self, type_: str, id_: str, body: Json) -> Json: ...

    def delete(self, type_: str, id_: str) -> None: ...


class Notifies(Protocol):
    """Webhooks sent as MoySklad sends them (:class:`.webhooks.WebhookDispatcher`)."""

    def notify(self, entity_type: str, id_: str, action: str, fields: list[str] | None) -> None: ...


class Account(Protocol):
    """One sandbox account as its parts see it."""

    @property
    def store(self) -> SandboxStore: ...

    @property
    def ledger(self) -> StockLedger: ...

    @property
    def writer(self) -> Writes: ...

    @property
    def webhooks(self) -> Notifies: ...

    @property
    def list_cache(self) -> dict[tuple[str, str, str, int], list[dict[str, Any]]]: ...

    @property
    def token_kind(self) -> TokenKind: ...

    @property
    def paid_tariff(self) -> bool: ...

    @property
    def login(self) -> str | None: ...

    def rehost(self, payload: Any, base: str | None = None) -> Any:
        """``payload`` with store hrefs rewritten to the account's base URL."""
        ...
