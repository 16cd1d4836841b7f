"""MoySklad customer orders' custom fields (``attributes``) and owners as the hub's order fields.

* :class:`AttributeBook` turns the hub's ``{field name: value}`` into attribute value objects: the
  order's fields are read once (``/entity/customerorder/metadata/attributes``); a dictionary field's
  value is the entry of that name in its dictionary (``customEntityMeta`` →
  ``/entity/customentity/{id}``, read once per dictionary), and an entry missing there is created
  (``POST /entity/customentity/{id}``, once however many orders name it: a retry finds it by name
  before it creates).
* :class:`MoySkladOrderFields` reads them back: orders changed since a moment (``updated>=``,
  1000 a page, attributes inline) and the employees (``/entity/employee``) the owner is one of.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from connectors.moysklad.capabilities.catalog import OverClient
from connectors.moysklad.client import MoySkladClient
from connectors.moysklad.wire.meta import Json, ref_id
from connectors.moysklad.wire.moscow_time import parse_moscow
from hub.capabilities import ErpOrderFields, OrderDraft, Person

#: attribute types a channel's plain value can fill
PLAIN = {"string", "text", "link", "long", "double", "boolean", "time"}
TRUE = {"true", "1", "yes", "да"}


def attribute_value(attr: Mapping[str, Any], value: Any) -> Any:
    """A channel's plain value as the ``value`` of a MoySklad attribute of ``attr``'s type.

    Raises:
        ValueError: the type takes no plain value (a file, a counterparty…), or the value is not one.
    """
    kind = str(attr.get("type"))
    if value is None or value == "":
        return None
    if kind not in PLAIN:
        raise ValueError(f"MoySklad field {attr.get('name')!r} is of type {kind}: it takes no channel value")
    if kind == "long":
        return int(float(value))
    if kind == "double":
        return float(value)
    if kind == "boolean":
        return value if isinstance(value, bool) else str(value).strip().lower() in TRUE
    if kind == "time":
        text = str(value)
        return f"{text} 00:00:00" if len(text) == 10 else text[:19]
    return str(value)


def value_of(attr: Mapping[str, Any]) -> Any:
    """An order attribute's value as the hub carries it (a dictionary entry by its name)."""
    value = attr.get("value")
    if isinstance(value, Mapping):
        return value.get("name")
    return value


class AttributeBook:
    """The custom fields of customer orders and the entries of their dictionaries."""

    def __init__(self, client: MoySkladClient) -> None:
        self.client = client
        self._fields: dict[str, Json] | None = None
        self._entries: dict[str, dict[str, Json]] = {}
        self.created = 0  # dictionary entries made

    async def fields(self) -> dict[str, Json]:
        """Field name -> its metadata (read once)."""
        if self._fields is None:
            rows = await self.client.collect("/entity/customerorder/metadata/attributes")
            self._fields = {str(a["name"]): a for a in rows}
        return self._fields

    async def entry(self, attr: Mapping[str, Any], name: str) -> Json:
        """The entry called ``name`` of a dictionary field's dictionary, created when missing."""
        dict_id = ref_id({"meta": attr.get("customEntityMeta") or {}})
        if not dict_id:
            raise ValueError(f"MoySklad field {attr.get('name')!r} names no dictionary")
        if dict_id not in self._entries:
            rows = await self.client.collect(f"/entity/customentity/{dict_id}")
            self._entries[dict_id] = {}
            for row in rows:
                self._entries[dict_id].setdefault(str(row.get("name")), row)
        found = self._entries[dict_id].get(name)
        if found is None:
            # no syncId on entries: not retried blind; a repeat (next run) finds it by name first
            answer = await self.client.request(
                "POST", f"/entity/customentity/{dict_id}", json={"name": name}, idempotent=False
            )
            found = dict(answer.json())
            self._entries[dict_id][name] = found
            self.created += 1
        return found

    async def values(self, wanted: Mapping[str, Any]) -> list[Json]:
        """Attribute value objects of ``{field name: value}`` (None clears a field).

        Raises:
            ValueError: MoySklad has no such order field, or the value does not fit it.
        """
        known = await self.fields()
        out: list[Json] = []
        for name, value in wanted.items():
            attr = known.get(name)
            if attr is None:
                raise ValueError(f"MoySklad orders have no field {name!r} — fix mappings.custom_fields")
            if attr.get("type") == "customentity":
                entry = None if value in (None, "") else await self.entry(attr, str(value))
                item = None if entry is None else {"meta": dict(entry["meta"]), "name": entry.get("name")}
            else:
                try:
                    item = attribute_value(attr, value)
                except (TypeError, ValueError) as exc:
                    raise ValueError(
                        f"MoySklad field {name!r} ({attr.get('type')}) cannot take {value!r}: {exc}"
                    ) from None
            out.append({"meta": dict(attr["meta"]), "value": item})
        return out

    async def for_drafts(self, drafts: Sequence[OrderDraft]) -> dict[str, list[Json] | str]:
        """Draft key -> its attribute values, or why they cannot be made."""
        out: dict[str, list[Json] | str] = {}
        for draft in drafts:
            if draft.fields:
                try:
                    out[draft.key] = await self.values(draft.fields)
                except ValueError as exc:
                    out[draft.key] = str(exc)
        return out


def same_attributes(saved: Mapping[str, Any], sent: Sequence[Mapping[str, Any]]) -> bool:
    """Whether an order holds the attribute values sent (dictionary values by entry)."""
    held = {ref_id(a): a.get("value") for a in saved.get("attributes") or []}
    for item in sent:
        value, now = item.get("value"), held.get(ref_id(item))
        if isinstance(value, Mapping):
            if ref_id(value) != ref_id(now):
                return False
        elif value != now:
            return False
    return True


class MoySkladOrderFields(OverClient):
    """``OrderFieldSource`` and ``StaffBook`` over one MoySklad account."""

    async def staff(self) -> list[Person]:
        rows = await self.client.collect("/entity/employee")
        return [
            Person(
                str(r["id"]),
                r.get("fullName") or r.get("name"),
                r.get("email"),
                r.get("firstName"),
                r.get("lastName"),
            )
            for r in rows
            if not r.get("archived")
        ]

    async def changed_order_fields(self, since: datetime, names: Sequence[str]) -> list[ErpOrderFields]:
        found: list[ErpOrderFields] = []
        async for page in self.client.iter_orders(since):
            for order in page:
                fields = {str(a.get("name")): value_of(a) for a in order.get("attributes") or []}
                found.append(
                    ErpOrderFields(
                        str(order["id"]),
                        order.get("externalCode"),
                        {name: fields.get(name) for name in names},
                        ref_id(order.get("owner")),
                        parse_moscow(str(order["updated"])) if order.get("updated") else None,
                    )
                )
        return found
