"""The registry of systems: what each connector declares — its settings and the capabilities it implements.

Nothing here knows a particular system. Each connector package's ``__init__`` exposes a
:class:`Connector`; the registry finds the bundled ones by the table :data:`BUILTIN` (one line per
system) and third-party ones by the ``skladbridge.connectors`` entry point group, and imports each
only when it is first asked for (the hub imports nothing above it at import time). The config is
validated against these declarations, so a directed edge such as ``stock: {from: crm, to: ms}`` is
refused before anything runs when no code backs it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from hub.capabilities import (
    CatalogFeedSink,
    CatalogSource,
    OrderSink,
    OrderSource,
    OrderStates,
    PriceSink,
    StatusSink,
    StockSink,
    StockSource,
)

#: the streams an integration routes between systems (``flows:`` keys in the config)
STREAMS = ("catalog", "stock", "prices", "orders", "statuses", "customers", "payments")

#: which capability a system needs to be the ``from`` (read) or the ``to`` (write) of a stream;
#: a stream with none has no exchange yet, so no system can take part in it
READ_CAPABILITY: Mapping[str, type] = {
    "catalog": CatalogSource,
    "stock": StockSource,
    "prices": CatalogSource,
    "orders": OrderSource,
    "statuses": OrderStates,
}
WRITE_CAPABILITY: Mapping[str, type] = {
    "catalog": CatalogFeedSink,
    "stock": StockSink,
    "prices": PriceSink,
    "orders": OrderSink,
    "statuses": StatusSink,
}

#: bundled systems: name -> the package whose ``CONNECTOR`` declares it (a new system: one line)
BUILTIN: Mapping[str, str] = {
    "moysklad": "connectors.moysklad",
    "retailcrm": "connectors.retailcrm",
    "horoshop": "connectors.horoshop",
    "yml": "connectors.yml",
    "keycrm": "connectors.keycrm",
}
ENTRY_POINT_GROUP = "skladbridge.connectors"
#: connectors registered at run time (:func:`register`): tests, notebooks, embedding applications
_REGISTERED: dict[str, Connector] = {}


class _SecretMark:
    """Marks a settings field as a secret reference (see :data:`SecretRef` and :func:`secret_fields`)."""

    def __repr__(self) -> str:
        return "SECRET"


SECRET = _SecretMark()

#: A reference to a secret (``${ENV_VAR}`` or ``prefect-secret:<block>``), never the value. The
#: config holds only references; :func:`hub.config.resolve_secret` turns one into the value when a
#: client is built, and the value is registered for redaction there. A connector's settings field of
#: this type is a secret whatever its name (``token``, ``password``, ``access_token`` ...).
SecretRef = Annotated[
    str,
    SECRET,
    Field(
        pattern=r"^(\$\{[A-Za-z_][A-Za-z0-9_]*\}|prefect-secret:.+)$",
        description="${ENV_VAR} or prefect-secret:<block>",
    ),
]


def secret_fields(settings: type[BaseModel]) -> frozenset[str]:
    """The config keys of ``settings`` declared :data:`SecretRef` (``SecretRef | None`` included)."""

    def holds_secret(annotation: Any) -> bool:
        if get_origin(annotation) is Annotated:
            return SECRET in annotation.__metadata__ or holds_secret(get_args(annotation)[0])
        return any(holds_secret(arg) for arg in get_args(annotation))

    return frozenset(
        field.alias or name
        for name, field in settings.model_fields.items()
        if SECRET in field.metadata or holds_secret(field.annotation)
    )


#: turns a secret reference into its value (None stays None)
SecretResolver = Callable[[str | None], str | None]


class SystemSettings(BaseModel):
    """Settings every system entry has; each connector subclasses it with its own fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    system: str
    base_url: HttpUrl


@dataclass(frozen=True)
class Connector:
    """What one system declares.

    Attributes:
        name: the ``system:`` value in the config.
        title: how merchants write its name (in messages).
        settings: its settings model (validated when the config loads).
        client: ``client(settings, resolve_secret)`` → the system's API client, an async context
            manager (its rate budget is shared per credential).
        capabilities: protocol of :mod:`hub.capabilities` → ``make(client, settings)``, the object
            implementing it over that client. ``client`` is None when a task only plans (batch
            sizes, entry shapes, feed files): methods that send nothing must not touch it.
        sandbox: ``"package.module:function"`` making a seeded account of the connector's sandbox
            (a ``connectors.sandboxing.kit.SandboxKit``): what the conformance suite every connector
            runs is run against. Named, not imported, so that loading a connector loads no sandbox.
        order_poll_seconds: how often ``serve`` asks a channel of this system for order changes when
            the config does not say (``options.orders.poll_seconds``): one request each time, so a
            share of the system's budget its owner can afford (2 s is 1 800 requests an hour).
    """

    name: str
    title: str
    settings: type[SystemSettings]
    client: Callable[[Any, SecretResolver], AbstractAsyncContextManager[Any]]
    capabilities: Mapping[type, Callable[[Any, Any], Any]]
    sandbox: str | None = None
    order_poll_seconds: float = 2.0

    def can(self, capability: type) -> bool:
        return capability in self.capabilities

    def streams(self, role: str) -> list[str]:
        """The streams this system can be the ``from`` (role "reads") or ``to`` ("writes") of."""
        table = READ_CAPABILITY if role == "reads" else WRITE_CAPABILITY
        return sorted(stream for stream, cap in table.items() if cap in self.capabilities)


class UnknownSystemError(LookupError):
    """No connector declares this system."""


def _load(target: str) -> Connector:
    module, _, attr = target.partition(":")
    found = getattr(importlib.import_module(module), attr or "CONNECTOR")
    if not isinstance(found, Connector):
        raise TypeError(f"{target} is not a hub.systems.Connector")
    return found


@cache
def _targets() -> dict[str, str]:
    targets = dict(BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        targets.setdefault(ep.name, ep.value)  # a plug-in never replaces a bundled system
    return targets


def connector(name: str) -> Connector:
    """The connector of system ``name``.

    Raises:
        UnknownSystemError: no bundled package, entry point or registration declares it.
    """
    if name in _REGISTERED:
        return _REGISTERED[name]
    target = _targets().get(name)
    if target is None:
        raise UnknownSystemError(f"unknown system {name!r}; known: {known_systems()}")
    return _load_cached(target)


@cache
def _load_cached(target: str) -> Connector:
    return _load(target)


def register(found: Connector) -> None:
    """Declare a system at run time (a package is the usual way: :data:`BUILTIN` or an entry point)."""
    if found.name in _targets():
        raise ValueError(f"system {found.name!r} is already declared by {_targets()[found.name]}")
    _REGISTERED[found.name] = found


def unregister(name: str) -> None:
    _REGISTERED.pop(name, None)


def known_systems() -> list[str]:
    return sorted({*_targets(), *_REGISTERED})
