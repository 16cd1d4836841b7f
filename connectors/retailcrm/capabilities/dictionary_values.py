"""retailCRM dictionary custom fields ⇄ the values the hub carries (docs/order-fields.md).

A dictionary field holds an element's *code* on the order (``customFields.channel = "market"``); the
hub carries the element's *name* ("Маркетплейс"), which is what the ERP's dictionary is matched by (the
seed: dictionary values by value). The fields and dictionaries are read once per capability, and only
when an order has custom fields: orders without cost no request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connectors.retailcrm.client import RetailCRMClient


class DictionaryValues:
    """Element code ⇄ name of the order custom fields that are dictionaries."""

    def __init__(self, client: RetailCRMClient) -> None:
        self.client = client
        self._names: dict[str, dict[str, str]] | None = None  # field code -> element code -> name

    async def _books(self) -> dict[str, dict[str, str]]:
        if self._names is None:
            fields = {
                str(f["code"]): str(f.get("dictionary"))
                for f in await self.client.custom_fields("order")
                if f.get("type") == "dictionary"
            }
            books: dict[str, dict[str, str]] = {}
            if fields:
                for book in await self.client.custom_dictionaries():
                    books[str(book.get("code"))] = {
                        str(e.get("code")): str(e.get("name")) for e in book.get("elements") or []
                    }
            self._names = {field: books.get(book, {}) for field, book in fields.items()}
        return self._names

    async def named(self, orders: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """The orders with each dictionary field's element code replaced by the element's name."""
        if not any(isinstance(o.get("customFields"), Mapping) and o["customFields"] for o in orders):
            return list(orders)
        names = await self._books()
        out: list[dict[str, Any]] = []
        for order in orders:
            fields = order.get("customFields")
            if isinstance(fields, Mapping) and any(code in names for code in fields):
                renamed = {
                    code: names[code].get(str(value), value) if code in names and value is not None else value
                    for code, value in fields.items()
                }
                order = {**order, "customFields": renamed}
            out.append(order)
        return out

    async def coded(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Values to write: a dictionary field's element name becomes its code.

        Raises:
            ValueError: the dictionary has no element of that name (the CRM's dictionaries are its
                administrator's: the hub adds no element to them).
        """
        names = await self._books() if fields else {}
        out: dict[str, Any] = {}
        for code, value in fields.items():
            if code not in names or value in (None, ""):
                out[code] = value
                continue
            by_name = {name: element for element, name in names[code].items()}
            if str(value) in by_name:
                out[code] = by_name[str(value)]
            elif str(value) in names[code]:
                out[code] = str(value)  # a code already
            else:
                raise ValueError(f"the CRM's dictionary of field {code!r} has no element {value!r}")
        return out
