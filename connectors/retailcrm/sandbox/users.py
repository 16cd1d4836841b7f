"""The account's users: ``GET /users`` (a page of ``users``) and ``GET /users/{id}``, as the official PHP
client's UsersTest reads them: ``{id, firstName, lastName, patronymic, email, active, isManager, ...}``.
Users are made in the CRM's settings, never through the API (:func:`add_user` stands for that)."""

from __future__ import annotations

from typing import Any

from connectors.retailcrm.sandbox.state import CrmState, now_local
from connectors.retailcrm.sandbox.wire import Call, not_found, paginate

Reply = tuple[int, dict[str, Any]]


def add_user(state: CrmState, first_name: str, last_name: str, email: str | None = None) -> dict[str, Any]:
    """A manager of the account, as an administrator adds one."""
    uid = state.next_id("user")
    user = {
        "id": uid,
        "createdAt": now_local(),
        "active": True,
        "email": email,
        "firstName": first_name,
        "lastName": last_name,
        "isManager": True,
        "isAdmin": False,
        "online": False,
        "status": "free",
    }
    state.users[uid] = user
    return user


def users_list(state: CrmState, call: Call) -> Reply:
    limit, page = call.page()
    flt = call.filters()
    ids = sorted(state.users)
    if flt.get("active") not in (None, ""):
        wanted = str(flt["active"]) in ("1", "true")
        ids = [i for i in ids if bool(state.users[i].get("active")) == wanted]
    page_ids, pagination = paginate(ids, limit, page)
    return 200, {"success": True, "pagination": pagination, "users": [state.users[i] for i in page_ids]}


def users_get(state: CrmState, call: Call) -> Reply:
    uid = call.args[0]
    if not uid.isdigit() or int(uid) not in state.users:
        raise not_found()
    return 200, {"success": True, "user": state.users[int(uid)]}
