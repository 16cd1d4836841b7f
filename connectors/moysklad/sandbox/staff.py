"""The account's employees (``entity/employee``): read only through the API here, added by a test or
the demo as a user adds colleagues in MoySklad. Fields as the OpenAPI fixture ``employee.json``:
``name`` and ``fullName`` ("Фамилия Имя"), ``shortFio`` ("Фамилия И."), ``firstName``, ``lastName``,
``email``, ``uid`` (login)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.moysklad.sandbox.state import Json

if TYPE_CHECKING:
    from connectors.moysklad.sandbox.account import Account


def add_employee(sb: Account, first_name: str, last_name: str, email: str | None = None) -> Json:
    """An employee of the account (archived False)."""
    body: Json = {
        "name": f"{last_name} {first_name}",
        "fullName": f"{last_name} {first_name}",
        "firstName": first_name,
        "lastName": last_name,
        "shortFio": f"{last_name} {first_name[:1]}.",
        "uid": f"{(email or last_name).split('@')[0].lower()}@{sb.store.account_id[:8]}",
        "archived": False,
    }
    if email:
        body["email"] = email
    return sb.store.put("employee", body)
