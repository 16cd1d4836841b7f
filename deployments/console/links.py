"""The *Links* screen: the hub's external-id links (the seed's "External id-objects"), searched by
either id — a system's id or the hub key — and added or removed by hand.

Adding links an id of one system to an id of another: the first's hub key is found (or made, as the
exchanges make it) and the second attached to it with the store's own link functions; a link that
would rewrite an existing one is refused, never forced. Removing drops one system's id of an object:
the next exchange that meets that id creates or links it afresh.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sqlalchemy import delete, or_, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from deployments.console.shell import Console, Refused
from hub.store import Store
from hub.store.tables import links

#: links shown for one search
LIMIT = 100
MAX_ID = 255


def search(store: Store, integration: str, value: str) -> list[dict[str, Any]]:
    """Every link of the objects ``value`` names (as an external id of any system, or as the hub key)."""
    c = links.c
    with store.db.read() as conn:
        keys = list(
            conn.scalars(
                select(c.hub_key)
                .where(c.integration == integration, or_(c.external_id == value, c.hub_key == value))
                .distinct()
                .limit(LIMIT)
            )
        )
        if not keys:
            return []
        rows = conn.execute(
            select(c.kind, c.hub_key, c.system, c.external_id, c.created_at)
            .where(c.integration == integration, c.hub_key.in_(keys))
            .order_by(c.hub_key, c.kind, c.system)
            .limit(LIMIT)
        )
        return [dict(row._mapping) for row in rows]


def remove(store: Store, integration: str, kind: str, system: str, external_id: str) -> bool:
    c = links.c
    with store.db.write() as conn:
        gone = conn.execute(
            delete(links).where(
                c.integration == integration, c.kind == kind, c.system == system, c.external_id == external_id
            )
        ).rowcount
    return bool(gone)


def _field(form: Any, key: str, what: str) -> str:
    value = str(form.get(key) or "").strip()
    if not value:
        raise Refused(400, f"give the {what}")
    if len(value) > MAX_ID:
        raise Refused(400, f"the {what} is longer than {MAX_ID} characters")
    return value


def routes(console: Console) -> list[BaseRoute]:
    def systems(name: str) -> list[str]:
        try:
            integ = console.config.integrations[name]
        except KeyError:
            raise Refused(404, f"no integration {name!r}") from None
        return sorted({s.system for s in integ.systems.values()})

    def page(request: Request) -> Response:
        console.user(request)
        params = request.query_params
        names = list(console.config.integrations)
        name = params.get("integration") or (names[0] if names else "")
        found: list[dict[str, Any]] = []
        q = (params.get("q") or "").strip()[:MAX_ID]
        if name:
            known = systems(name)
            if q:
                found = search(console.store, name, q)
        else:
            known = []
        return console.page(
            request, "links.html", current=name, q=q, found=found, systems=known, notice=params.get("notice")
        )

    def back(request: Request, name: str, q: str, notice: str) -> Response:
        query = urlencode({"integration": name, "q": q, "notice": notice})
        return RedirectResponse(f"{request.url_for('links')}?{query}", 303)

    async def add(request: Request) -> Response:
        session, form = await console.form(request)
        name = _field(form, "integration", "integration")
        known = systems(name)
        kind = _field(form, "kind", "kind (offers, orders, customers ...)")
        system_a, id_a = _field(form, "system_a", "first system"), _field(form, "id_a", "first id")
        system_b, id_b = _field(form, "system_b", "second system"), _field(form, "id_b", "second id")
        for system in (system_a, system_b):
            if system not in known:
                raise Refused(400, f"{system!r} is not a system of {name}; its systems: {known}")
        if system_a == system_b:
            raise Refused(400, "a link joins the ids of two different systems")
        store = console.store

        def link() -> str:
            hub_key = store.links.ensure(name, kind, system_a, [id_a])[id_a]
            store.links.attach(name, kind, hub_key, system_b, id_b)
            now = store.links.resolve(name, kind, system_b, [id_b]).get(id_b)
            if now != hub_key:
                raise Refused(
                    409,
                    f"{system_b} id {id_b} is linked to another object ({now}) already, or that object has a "
                    f"{system_b} id: remove that link first",
                )
            return hub_key

        hub_key = await run_in_threadpool(link)
        await run_in_threadpool(
            store.journal.write,
            name,
            "info",
            "console.link",
            f"{session.user} linked {kind} {system_a} {id_a} with {system_b} {id_b} in the console",
            {"kind": kind, "hub_key": hub_key},
        )
        return back(request, name, id_a, f"linked: {system_a} {id_a} ⇄ {system_b} {id_b} (hub key {hub_key})")

    async def drop(request: Request) -> Response:
        session, form = await console.form(request)
        name = _field(form, "integration", "integration")
        systems(name)
        kind, system = _field(form, "kind", "kind"), _field(form, "system", "system")
        external_id = _field(form, "external_id", "id")
        gone = await run_in_threadpool(remove, console.store, name, kind, system, external_id)
        if gone:
            await run_in_threadpool(
                console.store.journal.write,
                name,
                "info",
                "console.link",
                f"{session.user} removed the link of {kind} {system} {external_id} in the console",
                {"kind": kind, "system": system, "external_id": external_id},
            )
        q = str(form.get("q") or "")
        return back(request, name, q, f"removed: {system} {external_id}" if gone else "there was no such link")

    return [
        Route("/links", page, methods=["GET"], name="links"),
        Route("/links/add", add, methods=["POST"], name="link_add"),
        Route("/links/remove", drop, methods=["POST"], name="link_remove"),
    ]
