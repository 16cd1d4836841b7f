"""Two-way order fields (docs/order-fields.md): an order's custom fields and its responsible manager,
kept the same on the channel and the ERP (the seed module "МойСклад 2.0"'s field and employee mappings).

Custom fields are named by the channel's code on one side and the ERP's field name on the other
(``mappings.custom_fields``: ERP field → channel code; several ERP fields may share one channel code).
A value is plain JSON text or number; a dictionary value travels as the entry's *name*, which the
ERP matches in the field's dictionary (a missing entry is created there). The manager is a person on
each side (:class:`Person`); people are matched, never created.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Person:
    """Someone orders are assigned to: a channel's user (manager) or an ERP's employee."""

    person_id: str
    name: str | None = None  # full name, "Фамилия Имя" or as the system writes it
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None


@runtime_checkable
class StaffBook(Protocol):
    """The people orders can be assigned to (read only: the hub never creates anyone)."""

    async def staff(self) -> Sequence[Person]:
        """Every active person."""
        ...


@dataclass(frozen=True)
class ErpOrderFields:
    """An ERP order's custom fields and responsible employee as they are now."""

    erp_order_id: str
    external_id: str | None  # the channel's order id the order was uploaded with
    fields: Mapping[str, Any] = field(default_factory=dict)  # ERP field name -> value (None: empty)
    owner_id: str | None = None  # the ERP employee
    updated_at: datetime | None = None


@runtime_checkable
class OrderFieldSource(Protocol):
    """An ERP whose orders' custom fields and owners the hub reads back."""

    async def changed_order_fields(self, since: datetime, names: Sequence[str]) -> list[ErpOrderFields]:
        """Orders changed at or after ``since``, with the values of the fields ``names``."""
        ...


@dataclass(frozen=True)
class OrderFieldChange:
    """What a channel order is to become: custom field code -> value, and its manager (None: unchanged)."""

    custom_fields: Mapping[str, Any] = field(default_factory=dict)
    manager_id: str | None = None


@runtime_checkable
class OrderFieldSink(Protocol):
    """A channel whose orders' custom fields and manager the hub may set."""

    async def set_order_fields(self, changes: Mapping[str, OrderFieldChange]) -> dict[str, str]:
        """Set each order's fields (channel order id -> change); returns those not set, with why."""
        ...
