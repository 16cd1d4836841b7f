"""Order upload: the order's custom fields and responsible manager go with it (docs/order-fields.md).

* Custom fields: ``mappings.custom_fields`` names, per ERP field, the channel field code it takes its
  value from (several ERP fields may take one code); the draft carries ``{ERP field: value}``.
* Manager: the channel's manager id becomes an ERP employee — ``mappings.managers`` (its value is
  the employee's id, e-mail or name), else (``options.fields.match_managers``) the channel user of
  that id matched to an employee by e-mail, then by first and last name. Employees are never made:
  a manager that matches no one is journaled (``orders.manager-unknown``) and the order goes
  without one — nothing is held back for it.
* What the ERP was sent is remembered per order (kind ``order_fields_sent``, in channel terms), so
  the read-back (:mod:`tasks.documents.fields_back`) tells a change made in the ERP from its echo.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from hub.capabilities import Person, StaffBook
from hub.systems import connector
from tasks.clients import open_capability
from tasks.exchange import ExchangeRun
from tasks.orders.stage import plain_rows

#: per channel order: the custom fields (channel codes, JSON) and manager the ERP was last known to hold
SENT = "order_fields_sent"


def channel_values(order: Mapping[str, Any]) -> dict[str, Any]:
    """The channel's custom fields of a staged order (``custom_fields`` JSON)."""
    text = order.get("custom_fields")
    if not text:
        return {}
    value = json.loads(str(text))
    return dict(value) if isinstance(value, dict) else {}


def erp_fields(order: Mapping[str, Any], mappings: Mapping[str, Mapping[str, str | None]]) -> dict[str, Any]:
    """ERP field name → value of a staged order, for the fields ``mappings.custom_fields`` maps and the
    order has (a field the channel left out is not sent: the ERP keeps what it has)."""
    values = channel_values(order)
    return {erp: values[code] for erp, code in (mappings.get("custom_fields") or {}).items() if code in values}


def mapped_codes(mappings: Mapping[str, Mapping[str, str | None]]) -> list[str]:
    return list(dict.fromkeys(c for c in (mappings.get("custom_fields") or {}).values() if c))


def _words(person: Person) -> frozenset[str]:
    names = [person.first_name, person.last_name] if person.first_name or person.last_name else [person.name]
    return frozenset(w.lower() for n in names if n for w in str(n).split())


def find_person(wanted: str, people: Sequence[Person]) -> Person | None:
    """The person ``wanted`` names: by id, e-mail (any case) or full name (words in any order)."""
    text = wanted.strip()
    words = frozenset(text.lower().split())
    for test in (
        lambda p: p.person_id == text,
        lambda p: bool(p.email) and str(p.email).lower() == text.lower(),
        lambda p: bool(words) and _words(p) == words,
    ):
        found = [p for p in people if test(p)]
        if len(found) == 1:
            return found[0]
    return None


def match(channel: Person, people: Sequence[Person]) -> Person | None:
    """The employee a channel user is: the same e-mail, else the same first and last name (one only)."""
    if channel.email:
        same = [p for p in people if p.email and p.email.lower() == channel.email.lower()]
        if len(same) == 1:
            return same[0]
    words = _words(channel)
    same = [p for p in people if words and _words(p) == words]
    return same[0] if len(same) == 1 else None


class ManagerBook:
    """Channel manager id ⇄ ERP employee id, by the mapping, else by matching people."""

    def __init__(
        self,
        mapping: Mapping[str, str | None],
        employees: Sequence[Person],
        channel_people: Sequence[Person] = (),
        *,
        match_people: bool = True,
    ) -> None:
        self.mapping, self.employees = mapping, employees
        self.channel = {p.person_id: p for p in channel_people}
        self.match_people = match_people

    def employee(self, manager_id: str) -> str | None:
        """The ERP employee of a channel manager (None: no one)."""
        if manager_id in self.mapping:
            named = self.mapping[manager_id]
            found = find_person(named, self.employees) if named else None
            return found.person_id if found else None
        person = self.channel.get(manager_id)
        if not self.match_people or person is None:
            return None
        found = match(person, self.employees)
        return found.person_id if found else None

    def manager(self, employee_id: str) -> str | None:
        """The channel manager of an ERP employee (None: none maps or matches it)."""
        for manager_id in [*self.mapping, *(m for m in self.channel if m not in self.mapping)]:
            if self.employee(manager_id) == employee_id:
                return manager_id
        return None


async def manager_book(run: ExchangeRun, wanted: bool) -> ManagerBook | None:
    """The manager book of an integration, reading both sides' people (None: not wanted, or a side
    cannot tell its people)."""
    if not wanted:
        return None
    erp_side, channel_side = connector(run.target_system), connector(run.source_system)
    if not erp_side.can(StaffBook):
        return None
    async with open_capability(run.integ, run.target, StaffBook) as erp:
        employees = list(await erp.staff())
    channel: list[Person] = []
    options = run.integ.options.fields
    if options.match_managers and channel_side.can(StaffBook):
        async with open_capability(run.integ, run.source, StaffBook) as source:
            channel = list(await source.staff())
    mapping = {str(k): v for k, v in (run.integ.mappings.get("managers") or {}).items()}
    return ManagerBook(mapping, employees, channel, match_people=options.match_managers)


async def owners(run: ExchangeRun, manager_ids: Sequence[str]) -> dict[str, str]:
    """Channel manager id → ERP employee id for these managers; the unknown ones are journaled."""
    if "managers" not in run.integ.mappings:
        return {}  # managers are not exchanged (no mappings.managers, not even an empty one)
    wanted = sorted({m for m in manager_ids if m})
    book = await manager_book(run, bool(wanted))
    found: dict[str, str] = {}
    for manager_id in wanted:
        employee = book.employee(manager_id) if book is not None else None
        if employee is not None:
            found[manager_id] = employee
            continue
        run.store.journal.write(
            run.name,
            "warning",
            "orders.manager-unknown",
            f"manager {manager_id} is no ERP employee (mappings.managers names none, and no employee has the "
            "manager's e-mail or name): the order goes without a responsible employee",
            {"manager_id": manager_id},
        )
    return found


def remember(run: ExchangeRun, held: Mapping[str, tuple[Mapping[str, Any], str | None]]) -> None:
    """Record what the ERP now holds of these orders: channel order id → (custom fields by channel
    code, channel manager id). What a write left alone stays as recorded: a code not written, and the
    manager when None (an unknown one is not sent, so the ERP keeps its owner)."""
    if not held:
        return
    before = remembered(run, list(held))
    rows = []
    for oid, (fields, manager) in held.items():
        old_fields, old_manager = before.get(oid) or ({}, None)
        merged = {**old_fields, **fields}
        rows.append(
            {
                "order_id": oid,
                "fields": json.dumps(merged, sort_keys=True, ensure_ascii=False),
                "manager_id": manager if manager is not None else old_manager,
            }
        )
    run.store.records.upsert_frame(run.name, SENT, run.target_system, pd.DataFrame(rows), "order_id")


def remembered(run: ExchangeRun, order_ids: Sequence[str]) -> dict[str, tuple[dict[str, Any], str | None]]:
    """What was recorded of these orders (absent: nothing yet)."""
    rows = plain_rows(run.store.records.frame(run.name, SENT, keys=list(order_ids)))
    return {str(r["order_id"]): (json.loads(str(r["fields"])), r.get("manager_id")) for r in rows}
