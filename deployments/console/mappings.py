"""The *Mappings* and *Undefined* screens.

*Mappings*: every mapping of an integration, key by key: the file's value, the value saved in the
console (which wins, :mod:`hub.saved_mappings`) and the one in effect. Saving checks the 1:1 rule of
the order statuses with the value in place, and writes to the hub store; the file is never edited.
A saved order mapping (statuses, stores, delivery types) moves what parked orders depend on, so the
next order upload plans them again; the console starts one at once when the integration has an
order-upload deployment.

*Undefined*: values the exchanges met that no mapping covers (a channel status an order arrived in;
an ERP state an order was moved to), with the orders they were met on, each mappable in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

import deployments.console.prefect_ops as prefect_ops
from deployments.console.live_values import LiveValues, read_live
from deployments.console.shell import Console, Refused
from hub.options import check_order_mappings
from hub.saved_mappings import merged
from hub.store import UnknownValue
from tasks.orders.plan import ORDER_MAPPINGS, PARKED
from tasks.orders.stage import plain_rows
from tasks.orders.status import UNDEFINED

#: the exchange whose unknown values are on the target side of ``statuses`` (ERP states)
STATE_SIDE = "order-status-sync"
MAX_VALUE = 255


@dataclass(frozen=True)
class Row:
    kind: str
    source: str
    file: str | None
    in_file: bool
    saved: str | None
    is_saved: bool

    @property
    def effective(self) -> str | None:
        return self.saved if self.is_saved else self.file

    @property
    def unmapped(self) -> bool:
        """A value a system has that neither the file nor the console maps (nor leaves out)."""
        return not self.in_file and not self.is_saved


def rows_of(
    file: dict[str, dict[str, str | None]],
    saved: dict[str, dict[str, str | None]],
    live: dict[str, list[str]] | None = None,
) -> list[Row]:
    """Every key of every mapping: the file's, the saved ones, and the values the systems have (``live``)."""
    live = live or {}
    out = []
    for kind in sorted(set(file) | set(saved) | set(live)):
        f, s = file.get(kind, {}), saved.get(kind, {})
        for source in sorted(set(f) | set(s) | set(live.get(kind, []))):
            out.append(Row(kind, source, f.get(source), source in f, s.get(source), source in s))
    return out


def _text(form: Any, key: str, what: str, *, required: bool = True) -> str:
    value = str(form.get(key) or "").strip()
    if required and not value:
        raise Refused(400, f"give the {what}")
    if len(value) > MAX_VALUE:
        raise Refused(400, f"the {what} is longer than {MAX_VALUE} characters")
    return value


def routes(console: Console) -> list[BaseRoute]:
    #: the systems' values as last read, by integration
    live: dict[str, LiveValues] = {}

    def integration(name: str) -> Any:
        try:
            return console.config.integrations[name]
        except KeyError:
            raise Refused(404, f"no integration {name!r}") from None

    def mappings_page(request: Request) -> Response:
        console.user(request)
        names = list(console.config.integrations)
        name = request.query_params.get("integration") or (names[0] if names else None)
        if name is not None:
            integration(name)
        file = dict(console.config.integrations[name].mappings) if name else {}
        saved = console.store.mappings.saved(name) if name else {}
        values = live.get(name) if name else None
        return console.page(
            request,
            "mappings.html",
            current=name,
            rows=rows_of(file, saved, values.sources if values else None),
            kinds=sorted(set(file) | set(saved) | set(ORDER_MAPPINGS) | set(values.targets if values else ())),
            live=values,
            notice=request.query_params.get("notice"),
        )

    async def read_values(request: Request) -> Response:
        _, form = await console.form(request)
        name = _text(form, "integration", "integration")
        live[name] = await read_live(integration(name))
        problems = "; ".join(live[name].problems)
        return _back(request, form, f"read the systems' values{': ' + problems if problems else ''}")

    def met_on(name: str) -> dict[str, list[str]]:
        """value -> orders it was met on (parked orders' reasons name it; undefined states hold it)."""
        where: dict[str, list[str]] = {}
        for row in plain_rows(console.store.records.frame(name, PARKED)):
            where.setdefault(f"reason:{row['order_id']}", []).append(str(row.get("reason") or ""))
        for row in plain_rows(console.store.records.frame(name, UNDEFINED)):
            where.setdefault(f"state:{row.get('state')}", []).append(str(row["order_id"]))
        return where

    def undefined_page(request: Request) -> Response:
        console.user(request)
        items: list[dict[str, Any]] = []
        for name, integ in console.config.integrations.items():
            effective = merged(integ.mappings, console.store.mappings.saved(name))
            values: list[UnknownValue] = console.store.mappings.unknown_values(name)
            where = met_on(name) if values else {}
            for value in values:
                mapping = effective.get(value.kind, {})
                state_side = value.met_in == STATE_SIDE
                if (value.source in mapping.values()) if state_side else (value.source in mapping):
                    continue  # mapped since (in the file, or saved here)
                if state_side:
                    orders = where.get(f"state:{value.source}", [])
                else:
                    token = f"`{value.source}`"
                    orders = [
                        k.split(":", 1)[1]
                        for k, reasons in where.items()
                        if k.startswith("reason:") and any(token in r for r in reasons)
                    ]
                items.append({"value": value, "state_side": state_side, "orders": orders})
        return console.page(request, "undefined.html", items=items, notice=request.query_params.get("notice"))

    async def save(request: Request) -> Response:
        session, form = await console.form(request)
        name = _text(form, "integration", "integration")
        integ = integration(name)
        kind = _text(form, "kind", "mapping's kind")
        source = _text(form, "source", "value to map")
        target = _text(form, "target", "value to map it to", required=False) or None
        known = live[name].targets.get(kind) if name in live else None
        if target is not None and known is not None and target not in known:
            raise Refused(400, f"not saved: {target!r} is not a value the system has for {kind}; it has {known}")
        saved = await run_in_threadpool(console.store.mappings.saved, name)
        trial = merged(integ.mappings, {**saved, kind: {**saved.get(kind, {}), source: target}})
        problems = check_order_mappings(trial)
        if problems:
            raise Refused(400, "not saved: " + "; ".join(problems))
        await run_in_threadpool(console.store.mappings.save, name, kind, source, target, by=session.user or "")
        file = integ.mappings.get(kind, {})
        was = f" (the file has {file[source]!r})" if source in file else ""
        await run_in_threadpool(
            console.store.journal.write,
            name,
            "info",
            "console.mapping",
            f"{session.user} mapped {kind} {source!r} to {target!r} in the console{was}",
            {"kind": kind, "source": source, "target": target},
        )
        notice = f"saved: {kind} {source} → {target if target is not None else '(left out)'}"
        if kind in ORDER_MAPPINGS:
            notice += "; " + await run_in_threadpool(_replan, name)
        return _back(request, form, notice)

    async def forget(request: Request) -> Response:
        session, form = await console.form(request)
        name = _text(form, "integration", "integration")
        integ = integration(name)
        kind, source = _text(form, "kind", "mapping's kind"), _text(form, "source", "value")
        trial = merged(
            integ.mappings,
            {
                k: {s: t for s, t in v.items() if (k, s) != (kind, source)}
                for k, v in (await run_in_threadpool(console.store.mappings.saved, name)).items()
            },
        )
        problems = check_order_mappings(trial)
        if problems:
            raise Refused(400, "the file's value would break a rule: " + "; ".join(problems))
        gone = await run_in_threadpool(console.store.mappings.forget_saved, name, kind, source)
        if gone:
            await run_in_threadpool(
                console.store.journal.write,
                name,
                "info",
                "console.mapping",
                f"{session.user} dropped the console's value of {kind} {source!r}: the file's applies",
                {"kind": kind, "source": source},
            )
        return _back(
            request, form, f"{kind} {source}: the file's value applies" if gone else "nothing was saved for it"
        )

    def _replan(name: str) -> str:
        try:
            run = prefect_ops.start_run(name, "order-upload")
        except prefect_ops.PrefectUnavailable:
            return "parked orders are planned again by the next order upload"
        return f"parked orders are planned again: order upload started ({run.name})"

    def _back(request: Request, form: Any, notice: str) -> Response:
        page = "undefined" if form.get("from") == "undefined" else "mappings"
        query = {"notice": notice, **({"integration": form.get("integration")} if page == "mappings" else {})}
        return RedirectResponse(f"{request.url_for(page)}?{urlencode(query)}", 303)

    return [
        Route("/mappings", mappings_page, methods=["GET"], name="mappings"),
        Route("/mappings/save", save, methods=["POST"], name="mapping_save"),
        Route("/mappings/forget", forget, methods=["POST"], name="mapping_forget"),
        Route("/mappings/read", read_values, methods=["POST"], name="mapping_read"),
        Route("/undefined", undefined_page, methods=["GET"], name="undefined"),
    ]
