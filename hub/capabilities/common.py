"""What every system and every upload stream shares: being reachable, batches of entries, the
channel's own reference books."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    pass

#: an upload entry as the sink's wire wants it (a JSON object); opaque to the pipeline
Entry = dict[str, Any]


@runtime_checkable
class Reachable(Protocol):
    """The account answers our credentials: one cheap authenticated call (the healthcheck's)."""

    async def check_access(self) -> str:
        """A few words on what the account said (e.g. its sites); raises the connector's error
        (``AuthError`` for wrong credentials, a transient error when it cannot be reached)."""
        ...


@dataclass(frozen=True)
class ChannelReference:
    """What a channel offers to map onto, and what it finds wrong with its own settings.

    Attributes:
        warehouses: codes of the channel's active warehouses.
        price_types: code → whether it is the channel's base price type (the catalog's main price).
        catalog_stamp: when the channel last loaded our catalog (to tell its next load), if it says.
        problems: settings of this system the channel refuses (e.g. a site it does not have), each
            with its fix; a run writes nothing while there are any.
    """

    warehouses: list[str]
    price_types: dict[str, bool]
    catalog_stamp: str | None = None
    problems: list[str] = field(default_factory=list)

    def with_problems_of(self, alias: str) -> ChannelReference:
        """The same, each problem prefixed with where it is fixed: ``systems.<alias>``."""
        return replace(self, problems=[f"systems.{alias}: {p}" for p in self.problems])


@dataclass(frozen=True)
class Delivery:
    """A channel's answer to one batch: how many it processed, and which entries it does not know."""

    processed: int
    not_found: frozenset[str] = frozenset()  # entry refs (see :meth:`BatchSink.ref`)


@runtime_checkable
class BatchSink(Protocol):
    """Takes entries in batches: the publish pipeline's side of every upload stream."""

    #: the most entries one request may carry
    max_batch: int

    def ref(self, entry: Entry) -> str:
        """The source id an entry is about (snapshots, links and not-found answers use it)."""
        ...

    async def send(self, entries: Sequence[Entry]) -> Delivery:
        """Send one batch of at most :attr:`max_batch` entries.

        Raises:
            connectors.http.ConnectorError: the batch was refused or could not be sent.
        """
        ...


@runtime_checkable
class ChannelReader(Protocol):
    """Reads what a channel offers to map onto (warehouses, price types) and checks its settings."""

    async def channel_reference(self, *, with_catalog_stamp: bool = False) -> ChannelReference: ...


#: the kinds of object a link joins across two systems (``skladbridge links --kind``)
LINK_KINDS = ("customers", "offers", "orders")


@runtime_checkable
class Lookup(Protocol):
    """Tells whether an object exists in the system, by its id, in one request: a link made by hand
    (the "External id-objects" screen) must join two objects that exist."""

    async def exists(self, kind: str, external_id: str) -> bool:
        """Whether the system has the object ``external_id`` of ``kind`` (one of :data:`LINK_KINDS`).

        Raises:
            ValueError: the system keeps no objects of ``kind``.
            connectors.http.ConnectorError: the system could not be asked (not a "no").
        """
        ...


@runtime_checkable
class KeyedOffers(Protocol):
    """A channel that names offers by the merchant's own key (an SKU), not by the source's ids: its
    order lines name them so, and its stock entries must. It keeps a catalog of its own."""

    #: the canonical ``offers`` column holding that key (``article`` or ``code``)
    offer_key: str
