"""Order custom fields and their dictionaries: ``GET /custom-fields`` (``customFields``) and
``GET /custom-fields/dictionaries`` (``customDictionaries``), endpoints as the official PHP client's
CustomFieldsTest calls them (crm.md A.5); the answers' key names and the element shape
``{name, code, ordering}`` are [unverified] (the test bodies were not retrieved). A dictionary field
holds an element's *code* on the order; an order naming a code its dictionary lacks is refused.
Fields and dictionaries are made in the CRM's settings (:func:`add_field`, :func:`add_dictionary`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connectors.retailcrm.sandbox.state import CrmState
from connectors.retailcrm.sandbox.wire import Call, paginate

Reply = tuple[int, dict[str, Any]]


def add_dictionary(state: CrmState, code: str, name: str, elements: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """A dictionary of ``(element code, element name)``."""
    book = {
        "code": code,
        "name": name,
        "elements": [{"code": c, "name": n, "ordering": 10 * i} for i, (c, n) in enumerate(elements, start=1)],
    }
    state.dictionaries[code] = book
    return book


def add_field(state: CrmState, code: str, name: str, kind: str = "string", dictionary: str | None = None) -> None:
    """An order custom field (``kind``: string, text, integer, numeric, boolean, date, dictionary...)."""
    state.custom_fields[code] = {
        "code": code,
        "name": name,
        "type": kind,
        "entity": "order",
        "required": False,
        "inFilter": True,
        "inList": True,
        "ordering": 50,
        **({"dictionary": dictionary} if dictionary else {}),
    }


def check_values(state: CrmState, fields: Any, errors: dict[str, str]) -> None:
    """An order's ``customFields``: a dictionary field takes one of its dictionary's element codes."""
    if not isinstance(fields, Mapping):
        return
    for code, value in fields.items():
        spec = state.custom_fields.get(str(code))
        if spec is None or spec.get("type") != "dictionary" or value in (None, ""):
            continue
        book = state.dictionaries.get(str(spec.get("dictionary"))) or {"elements": []}
        if str(value) not in {e["code"] for e in book["elements"]}:
            errors[f"customFields[{code}]"] = f'Dictionary element "{value}" does not exist.'


def fields_list(state: CrmState, call: Call) -> Reply:
    limit, page = call.page()
    entity = call.filters().get("entity")
    codes = [c for c, f in state.custom_fields.items() if not entity or f["entity"] == entity]
    rows, pagination = paginate(codes, limit, page)
    return 200, {"success": True, "pagination": pagination, "customFields": [state.custom_fields[c] for c in rows]}


def dictionaries_list(state: CrmState, call: Call) -> Reply:
    limit, page = call.page()
    rows, pagination = paginate(sorted(state.dictionaries), limit, page)
    return 200, {
        "success": True,
        "pagination": pagination,
        "customDictionaries": [state.dictionaries[c] for c in rows],
    }
