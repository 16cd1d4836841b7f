"""The emulated account's data: reference books, catalog, stock, prices, orders, customers, history.

Shapes follow the verbatim fixtures in ``shared/apis/crm-samples``: reference books are objects
keyed by code except ``stores`` (an array); dates are account-local ``Y-m-d H:i:s``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

#: retailCRM answers in the account's time zone; the sandbox account lives in Moscow.
ACCOUNT_TZ = ZoneInfo("Europe/Moscow")

DEFAULT_STATUSES: tuple[tuple[str, str, str], ...] = (
    ("new", "Новый", "new"),
    ("availability-confirmed", "Наличие подтверждено", "approval"),
    ("client-confirmed", "Согласовано с клиентом", "approval"),
    ("prepayed", "Предоплата поступила", "approval"),
    ("send-to-assembling", "Передано в комплектацию", "assembling"),
    ("assembling", "Комплектуется", "assembling"),
    ("assembling-complete", "Укомплектован", "assembling"),
    ("send-to-delivery", "Передан в доставку", "delivery"),
    ("delivering", "Доставляется", "delivery"),
    ("complete", "Выполнен", "complete"),
    ("no-call", "Недозвон", "cancel"),
    ("cancel-other", "Отменен", "cancel"),
)
DEFAULT_STORES: tuple[tuple[str, str], ...] = (
    ("main", "Основной склад"),
    ("msk", "Москва"),
    ("spb", "Санкт-Петербург"),
)
DEFAULT_PRICE_TYPES: tuple[tuple[str, str], ...] = (("base", "Базовая"), ("wholesale", "Оптовая"))


def now_local() -> str:
    """The current account-local time in retailCRM's date-time format."""
    return datetime.now(ACCOUNT_TZ).strftime("%Y-%m-%d %H:%M:%S")


def _keyed(rows: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["code"]: row for row in rows}


def default_sites(codes: Iterable[str]) -> dict[str, dict[str, Any]]:
    return _keyed(
        {
            "id": i,
            "code": code,
            "name": code,
            "url": f"https://{code}.example",
            "description": "",
            "defaultForCrm": i == 1,
            "ymlUrl": None,
            "loadFromYml": False,
            "catalogId": code,
            "catalogUpdatedAt": None,
            "catalogLoadingAt": None,
            "countryIso": "RU",
            "currency": "RUB",
            "isCatalogMainSite": True,
            "ordering": 990 + i,
            "isDemo": False,
        }
        for i, code in enumerate(codes, start=1)
    )


def default_stores(stores: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    return [
        {
            "code": code,
            "name": name,
            "description": "",
            "type": "store-type-warehouse",
            "inventoryType": "integer",
            "active": True,
            "address": {},
            "phone": {},
        }
        for code, name in stores
    ]


def default_price_types(types: Iterable[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    return _keyed(
        {
            "code": code,
            "name": name,
            "active": True,
            "default": i == 0,
            "description": "",
            "ordering": 990 + i,
            "groups": [],
            "geo": [],
            "filterExpression": "",
        }
        for i, (code, name) in enumerate(types)
    )


@dataclass
class HistoryRecord:
    """One change; ``author_key`` is who made it (None: a manager in the CRM's UI, or ``source``
    says which other actor: ``code`` for the CRM's own triggers and segments)."""

    id: int
    created_at: str
    field: str
    old_value: Any
    new_value: Any
    entity: dict[str, Any]
    author_key: str | None
    created: bool = False
    user_id: int | None = None
    source: str | None = None
    deleted: bool = False

    def render(self, entity_name: str, reader_key: str) -> dict[str, Any]:
        """The record as the reader with ``reader_key`` sees it (``apiKey.current`` is relative).

        Keys in the order of the verbatim sample (crm-samples/retailcrm-customers-history): ``id,
        createdAt, created?, source, user?, field, apiKey?, oldValue, newValue, <entity>``.
        """
        out: dict[str, Any] = {"id": self.id, "createdAt": self.created_at}
        if self.created:
            out["created"] = True
        if self.deleted:
            out["deleted"] = True
        out["source"] = self.source or ("user" if self.author_key is None else "api")
        if out["source"] == "user":
            out["user"] = {"id": self.user_id or 1}
        out["field"] = self.field
        if self.author_key is not None:
            out["apiKey"] = {"current": self.author_key == reader_key}
        out.update({"oldValue": self.old_value, "newValue": self.new_value})
        out[entity_name] = self.entity
        return out


@dataclass
class CrmState:
    """Everything the sandbox account holds. Tests may read (and seed) it directly."""

    sites: dict[str, dict[str, Any]]
    stores: list[dict[str, Any]]
    price_types: dict[str, dict[str, Any]]
    statuses: dict[str, dict[str, Any]] = field(
        default_factory=lambda: _keyed(
            {"code": c, "name": n, "active": True, "ordering": 10 * i, "group": g}
            for i, (c, n, g) in enumerate(DEFAULT_STATUSES, start=1)
        )
    )
    delivery_types: dict[str, dict[str, Any]] = field(
        default_factory=lambda: _keyed(
            {
                "code": c,
                "name": n,
                "active": True,
                "defaultCost": cost,
                "defaultNetCost": 0,
                "paymentTypes": ["cash", "bank-card"],
                "deliveryServices": [],
                "sites": [],
            }
            for c, n, cost in (("courier", "Курьер", 300), ("self-delivery", "Самовывоз", 0))
        )
    )
    payment_types: dict[str, dict[str, Any]] = field(
        default_factory=lambda: _keyed(
            {
                "code": c,
                "name": n,
                "active": True,
                "defaultForCrm": False,
                "defaultForApi": False,
                "description": "",
                "deliveryTypes": ["courier", "self-delivery"],
                "paymentStatuses": ["not-paid", "paid"],
            }
            for c, n in (("cash", "Наличными"), ("bank-card", "Банковской картой"))
        )
    )
    payment_statuses: dict[str, dict[str, Any]] = field(
        default_factory=lambda: _keyed(
            {"code": c, "name": n, "active": True, "paymentComplete": c == "paid", "ordering": i}
            for i, (c, n) in enumerate((("not-paid", "Не оплачен"), ("paid", "Оплачен")))
        )
    )
    # catalog: offers and products by CRM id; lookups by (site, externalId) and (site, xmlId)
    offers: dict[int, dict[str, Any]] = field(default_factory=dict)
    products: dict[int, dict[str, Any]] = field(default_factory=dict)
    offer_by_external: dict[tuple[str, str], int] = field(default_factory=dict)
    offer_by_xml: dict[tuple[str, str], int] = field(default_factory=dict)
    product_by_external: dict[tuple[str, str], int] = field(default_factory=dict)
    #: offer id -> store code -> {"available": float, "purchasePrice": float | None}
    inventories: dict[int, dict[str, dict[str, Any]]] = field(default_factory=dict)
    #: offer id -> price type code -> price in currency units
    prices: dict[int, dict[str, float]] = field(default_factory=dict)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    order_by_external: dict[tuple[str, str], int] = field(default_factory=dict)
    customers: dict[int, dict[str, Any]] = field(default_factory=dict)
    customer_by_external: dict[tuple[str, str], int] = field(default_factory=dict)
    payments: dict[int, dict[str, Any]] = field(default_factory=dict)
    history: list[HistoryRecord] = field(default_factory=list)
    #: the account's users (managers) by id: ``{id, firstName, lastName, email, active, isManager}``
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: order custom fields by code (``{code, name, type, entity, dictionary?}``) and dictionaries by code
    #: (``{code, name, elements: [{code, name, ordering}]}``)
    custom_fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    dictionaries: dict[str, dict[str, Any]] = field(default_factory=dict)
    customer_history: list[HistoryRecord] = field(default_factory=list)
    _ids: dict[str, int] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        sites: Iterable[str],
        stores: Iterable[tuple[str, str]] | None = None,
        price_types: Iterable[tuple[str, str]] | None = None,
    ) -> CrmState:
        return cls(
            sites=default_sites(sites),
            stores=default_stores(stores or DEFAULT_STORES),
            price_types=default_price_types(price_types or DEFAULT_PRICE_TYPES),
        )

    def next_id(self, sequence: str) -> int:
        """Increasing ids per sequence (orders, offers, history...), as the CRM's database gives."""
        value = self._ids.get(sequence, 0) + 1
        self._ids[sequence] = value
        return value

    @property
    def store_codes(self) -> set[str]:
        return {store["code"] for store in self.stores}

    def default_price_type(self) -> str:
        return next((c for c, p in self.price_types.items() if p.get("default")), next(iter(self.price_types)))

    def find_offer(self, ref: Mapping[str, Any], site: str | None) -> int | None:
        """Resolve ``{id | externalId | xmlId}`` to an offer id (externalId/xmlId are per site)."""
        if ref.get("id") not in (None, ""):
            try:
                offer_id = int(ref["id"])
            except (TypeError, ValueError):
                return None
            return offer_id if offer_id in self.offers else None
        for key, index in (("externalId", self.offer_by_external), ("xmlId", self.offer_by_xml)):
            if ref.get(key) not in (None, ""):
                sites = [site] if site else list(self.sites)
                return next((index[(s, str(ref[key]))] for s in sites if (s, str(ref[key])) in index), None)
        return None

    def record(
        self,
        log: list[HistoryRecord],
        *,
        field_name: str,
        old: Any,
        new: Any,
        entity: dict[str, Any],
        author_key: str | None,
        created: bool = False,
        source: str | None = None,
        deleted: bool = False,
    ) -> None:
        """Append a history record with the next id of that log's sequence."""
        sequence = "history" if log is self.history else "customer_history"
        log.append(
            HistoryRecord(
                id=self.next_id(sequence),
                created_at=now_local(),
                field=field_name,
                old_value=old,
                new_value=new,
                entity=entity,
                author_key=author_key,
                created=created,
                source=source,
                deleted=deleted,
            )
        )
