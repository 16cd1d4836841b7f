"""The sandbox's data: entities kept in MoySklad's own wire shape, plus the helpers that shape them.

Objects are stored with hrefs on the real host (``https://api.moysklad.ru/api/remap/1.2``) and
rewritten to the sandbox's own base URL when a response is serialised, so ``nextHref`` and
``meta.href`` are always followable, whichever host and port the sandbox answers on.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Final

from connectors.moysklad.wire.limits import DEFAULT_BASE_URL
from connectors.moysklad.wire.moscow_time import format_moscow, parse_moscow

STORE_BASE: Final = DEFAULT_BASE_URL
JSON_MEDIA: Final = "application/json"

#: entity types kept in the store; the assortment is the union of the first four
ASSORTMENT_TYPES: Final = ("product", "service", "bundle", "variant")
#: documents the sandbox keeps and takes writes of: every one the hub's stock webhooks subscribe, and payments
DOCUMENT_TYPES: Final = (
    "customerorder",
    "demand",
    "supply",
    "move",
    "loss",
    "enter",
    "paymentin",
    "cashin",
    "salesreturn",
    "purchasereturn",
    "retaildemand",
)

Json = dict[str, Any]


def position_type(type_: str) -> str:
    """The ``meta.type`` of a document's positions: a retail sale's are ``demandposition``, as a
    shipment's ([SPEC] fixture ``retail_demand.json``); every other document's ``<type>position``."""
    return "demandposition" if type_ == "retaildemand" else f"{type_}position"


def moscow(ts: datetime) -> str:
    """Format an aware datetime the way MoySklad answers: Moscow time, ms, no offset."""
    return format_moscow(ts, milliseconds=True)


def parse_moscow_filter(text: str) -> datetime:
    """Parse a filter or ``changedSince`` value (``YYYY-MM-DD HH:mm[:ss[.SSS]]``, Moscow) to UTC."""
    return parse_moscow(text)


def entity_meta(type_: str, id_: str, *, href: str | None = None) -> Json:
    """The ``meta`` of an entity of ``type_`` (hrefs on the store host)."""
    return {
        "href": href or f"{STORE_BASE}/entity/{type_}/{id_}",
        "metadataHref": f"{STORE_BASE}/entity/{type_}/metadata",
        "type": type_,
        "mediaType": JSON_MEDIA,
    }


def ref(type_: str, id_: str) -> Json:
    """A reference object ``{"meta": …}`` as MoySklad writes links."""
    return {"meta": entity_meta(type_, id_)}


def pricetype_meta(id_: str) -> Json:
    """Meta of a price type (it lives under ``context/companysettings``)."""
    return {
        "href": f"{STORE_BASE}/context/companysettings/pricetype/{id_}",
        "type": "pricetype",
        "mediaType": JSON_MEDIA,
    }


def state_meta(id_: str) -> Json:
    """Meta of a customer-order state."""
    return {
        "href": f"{STORE_BASE}/entity/customerorder/metadata/states/{id_}",
        "metadataHref": f"{STORE_BASE}/entity/customerorder/metadata",
        "type": "state",
        "mediaType": JSON_MEDIA,
    }


def collection_meta(href: str, type_: str, size: int, limit: int = 1000, offset: int = 0) -> Json:
    """Meta of a collection (a MetaArray, or the top of a list response)."""
    return {"href": href, "type": type_, "mediaType": JSON_MEDIA, "size": size, "limit": limit, "offset": offset}


def id_from_href(href: str) -> str:
    """The last path segment of an href (query stripped): the object's id."""
    return href.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def ref_id(value: Any) -> str | None:
    """The id a reference ``{"meta": {"href": …}}`` points at, or None."""
    if isinstance(value, dict) and isinstance(value.get("meta"), dict):
        href = value["meta"].get("href")
        if isinstance(href, str):
            return id_from_href(href)
    return None


class SandboxStore:
    """Every object the sandbox holds, by type then id (insertion order is list order).

    Attributes:
        entities: type -> id -> wire object (hrefs on the store host).
        sync_index: (type, syncId) -> id, the basis of ``syncId`` idempotency.
        images: owner id -> image objects.
        price_types, characteristics, states: the account's settings and metadata.
        version: bumped on every write (list caches key on it).
    """

    def __init__(self, *, seed: int = 0, clock: Callable[[], datetime] | None = None) -> None:
        self._rng = random.Random(seed)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.account_id = self.new_id()
        self.entities: dict[str, dict[str, Json]] = {}
        self.sync_index: dict[tuple[str, str], str] = {}
        self.images: dict[str, list[Json]] = {}
        self.price_types: list[Json] = []
        self.characteristics: list[Json] = []
        self.states: list[Json] = []
        #: type -> custom field (attribute) metadata of its documents
        self.attributes: dict[str, list[Json]] = {}
        self.counters: dict[str, int] = {}
        self.version = 0

    def new_id(self) -> str:
        """A fresh, deterministic UUID string."""
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def now(self) -> datetime:
        """The sandbox clock (aware UTC)."""
        return self.clock()

    def of_type(self, type_: str) -> dict[str, Json]:
        """The objects of one type (created on first use)."""
        return self.entities.setdefault(type_, {})

    def get(self, type_: str, id_: str) -> Json | None:
        """One object, or None."""
        return self.entities.get(type_, {}).get(id_)

    def find(self, id_: str, types: Iterable[str]) -> Json | None:
        """The object with ``id_`` among ``types`` (e.g. an assortment id)."""
        for type_ in types:
            obj = self.get(type_, id_)
            if obj is not None:
                return obj
        return None

    def next_number(self, type_: str) -> str:
        """The next document number (``00001``…), per type, as MoySklad numbers documents."""
        self.counters[type_] = self.counters.get(type_, 0) + 1
        return f"{self.counters[type_]:05d}"

    def put(self, type_: str, obj: Json, *, updated: datetime | None = None) -> Json:
        """Insert or replace ``obj``; fills ``meta``, ``id``, ``accountId``, ``updated``."""
        id_ = obj.get("id") or self.new_id()
        stamp = moscow(updated or self.now())
        head = {"meta": obj.get("meta") or entity_meta(type_, id_), "id": id_, "accountId": self.account_id}
        obj = {**head, **{k: v for k, v in obj.items() if k not in head}, "updated": stamp}
        if type_ in DOCUMENT_TYPES or type_ == "counterparty":
            obj.setdefault("created", stamp)
        self.of_type(type_)[id_] = obj
        sync_id = obj.get("syncId")
        if isinstance(sync_id, str):
            self.sync_index[(type_, sync_id)] = id_
        self.version += 1
        return obj

    def add_attribute(self, type_: str, name: str, kind: str = "string") -> Json:
        """Define a custom field of ``type_``'s documents (as a user does in the settings)."""
        attr_id = self.new_id()
        attr = {
            "meta": {
                "href": f"{STORE_BASE}/entity/{type_}/metadata/attributes/{attr_id}",
                "type": "attributemetadata",
                "mediaType": JSON_MEDIA,
            },
            "id": attr_id,
            "name": name,
            "type": kind,
            "required": False,
        }
        self.attributes.setdefault(type_, []).append(attr)
        return attr

    def by_sync_id(self, type_: str, sync_id: str) -> Json | None:
        """The object created earlier with this ``syncId``, if any."""
        id_ = self.sync_index.get((type_, sync_id))
        return self.get(type_, id_) if id_ else None

    def delete(self, type_: str, id_: str) -> Json | None:
        """Remove and return one object."""
        obj = self.entities.get(type_, {}).pop(id_, None)
        if obj is not None:
            self.version += 1
        return obj

    def assortment(self) -> list[Json]:
        """Products, services, bundles and variants, in that order."""
        rows: list[Json] = []
        for type_ in ASSORTMENT_TYPES:
            rows.extend(self.entities.get(type_, {}).values())
        return rows

    def default_currency(self) -> Json | None:
        """The accounting currency."""
        for cur in self.of_type("currency").values():
            if cur.get("default"):
                return cur
        return None

    def images_meta(self, owner_type: str, owner_id: str) -> Json:
        """The collapsed ``images`` MetaArray of an owner."""
        href = f"{STORE_BASE}/entity/{owner_type}/{owner_id}/images"
        return {"meta": collection_meta(href, "image", len(self.images.get(owner_id, [])))}
