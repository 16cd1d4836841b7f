"""The *Integrations* screen: each integration, its systems, their check, the Active switch, the
periods, the last run of each exchange (a link to it in the Prefect UI), and buttons that start a
full import, a stock reconciliation or an archive backfill as Prefect runs of the deployments.

Credentials are shown as their references (``${MOYSKLAD_TOKEN}``), never resolved.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

import deployments.console.prefect_ops as prefect_ops
from deployments.console.shell import Console, Refused
from deployments.schedule.exchanges import EXCHANGES
from hub.capabilities import Reachable
from hub.config import Integration, redact_url
from hub.systems import connector, secret_fields

#: the runs a manager may start here: button -> (exchange, what it does)
STARTS = {
    "full-import": "Full import of the catalog",
    "stock-reconcile": "Stock reconciliation (all stock read, what drifted sent)",
    "archive-backfill": "Archive backfill of past orders",
}
#: seconds a "check now" waits for a system
CHECK_SECONDS = 15.0


@dataclass(frozen=True)
class SystemRow:
    alias: str
    title: str
    settings: list[tuple[str, str]]  # shown settings; secrets as their references


def systems_of(integ: Integration) -> list[SystemRow]:
    rows = []
    for alias, settings in integ.systems.items():
        secret = secret_fields(type(settings))
        shown: list[tuple[str, str]] = []
        for key, value in settings.model_dump(mode="json", exclude_none=True).items():
            if key == "system" or isinstance(value, dict | list):
                continue
            text = str(value)
            if key in secret:
                shown.append((key, text if text.startswith(("${", "prefect-secret:")) else "(hidden)"))
            elif "://" in text:
                shown.append((key, redact_url(text)))
            else:
                shown.append((key, text))
        rows.append(SystemRow(alias, connector(settings.system).title, shown))
    return rows


def periods_of(integ: Integration) -> list[tuple[str, str]]:
    return [
        (e.name, integ.periods.of(e.period).describe())
        for e in EXCHANGES
        if e.period is not None and all(integ.edge(stream) for stream in e.needs)
    ]


async def check_systems(integ: Integration) -> dict[str, str]:
    """One cheap authenticated call to each system of the integration (what the healthcheck does)."""
    from connectors.http import first_line
    from tasks.clients import open_capability

    async def one(alias: str) -> tuple[str, str]:
        try:
            async with asyncio.timeout(CHECK_SECONDS), open_capability(integ, alias, Reachable) as system:
                return alias, f"ok: {await system.check_access()}"
        except TimeoutError:
            return alias, f"failed: no answer in {CHECK_SECONDS:g} s"
        except Exception as exc:  # each failure is a line of the screen, not an error page
            return alias, f"failed: {first_line(exc)}"

    return dict(await asyncio.gather(*(one(alias) for alias in integ.systems)))


def routes(console: Console) -> list[BaseRoute]:
    def integration(name: str) -> Integration:
        try:
            return console.config.integrations[name]
        except KeyError:
            raise Refused(404, f"no integration {name!r}") from None

    def overview(request: Request) -> Response:
        console.user(request)
        prefect: dict[str, Any] = {}
        problem = None
        for name in console.config.integrations:
            try:
                prefect[name] = prefect_ops.deployments_of(name)
            except prefect_ops.PrefectUnavailable as exc:
                problem = str(exc)
                break
        health = {
            entry.integration: entry
            for entry in reversed(console.store.journal.list(limit=200))
            if entry.event.startswith("healthcheck")
        }
        switches = console.store.switches.all()
        cards = [
            {
                "name": name,
                "switch": switches.get(name),
                "integ": integ,
                "systems": systems_of(integ),
                "periods": periods_of(integ),
                "deployments": prefect.get(name, []),
                "paused": bool(prefect.get(name)) and all(d.paused for d in prefect.get(name, [])),
                "checks": console.checks.get(name, {}),
                "health": health.get(name) or health.get(None),
                "starts": {k: v for k, v in STARTS.items() if any(d.exchange == k for d in prefect.get(name, []))},
            }
            for name, integ in console.config.integrations.items()
        ]
        return console.page(
            request,
            "integrations.html",
            cards=cards,
            prefect_problem=problem,
            ui=prefect_ops.ui_url(console.config.console.prefect_ui_url),
            notice=request.query_params.get("notice"),
            today=date.today().isoformat(),
        )

    def back(request: Request, notice: str) -> Response:
        from urllib.parse import urlencode

        return RedirectResponse(f"{request.url_for('integrations')}?{urlencode({'notice': notice})}", 303)

    async def active(request: Request) -> Response:
        session, form = await console.form(request)
        name = request.path_params["name"]
        integration(name)
        on = form.get("active") == "on"
        try:
            changed = await run_in_threadpool(prefect_ops.set_active, name, on)
        except prefect_ops.PrefectUnavailable as exc:
            raise Refused(503, str(exc)) from None
        # kept in the store, over the file's active: the next serve start or deploy plans the
        # deployments as switched here, and every run of a switched-off integration skips
        await run_in_threadpool(console.store.switches.set, name, on, by=session.user or "a loopback user")
        word = "resumed" if on else "paused"
        await run_in_threadpool(
            console.store.journal.write,
            name,
            "info",
            "console.active",
            f"{session.user} switched {name} {'on' if on else 'off'} in the console: "
            f"{len(changed)} deployment(s) {word}",
            {"deployments": changed},
        )
        return back(request, f"{name}: {len(changed)} deployment(s) {word}")

    async def start(request: Request) -> Response:
        session, form = await console.form(request)
        name, exchange = request.path_params["name"], request.path_params["exchange"]
        integration(name)
        if exchange not in STARTS:
            raise Refused(404, f"no such run to start: {exchange!r}")
        parameters: dict[str, Any] = {}
        if exchange == "archive-backfill":
            try:
                date_from = date.fromisoformat(str(form.get("date_from", "")))
                date_to = date.fromisoformat(str(form.get("date_to", "")))
            except ValueError:
                raise Refused(400, "give the backfill's dates as YYYY-MM-DD (from and to)") from None
            if date_from > date_to:
                raise Refused(400, f"the backfill's dates are reversed: from {date_from} is after to {date_to}")
            statuses = [s.strip() for s in str(form.get("statuses", "")).split(",") if s.strip()]
            parameters = {"date_from": date_from.isoformat(), "date_to": date_to.isoformat()}
            if statuses:
                parameters["statuses"] = statuses
        try:
            run = await run_in_threadpool(prefect_ops.start_run, name, exchange, parameters)
        except prefect_ops.PrefectUnavailable as exc:
            raise Refused(503, str(exc)) from None
        await run_in_threadpool(
            console.store.journal.write,
            name,
            "info",
            "console.start",
            f"{session.user} started {exchange} of {name} in the console: flow run {run.name}",
            {"flow_run_id": str(run.id), "parameters": parameters},
        )
        return back(request, f"{exchange} of {name} started: flow run {run.name}")

    async def check(request: Request) -> Response:
        await console.form(request)
        name = request.path_params["name"]
        console.checks[name] = await check_systems(integration(name))
        return back(request, f"{name}: systems checked")

    return [
        Route("/", overview, methods=["GET"], name="integrations"),
        Route("/integrations/{name}/active", active, methods=["POST"], name="integration_active"),
        Route("/integrations/{name}/start/{exchange}", start, methods=["POST"], name="integration_start"),
        Route("/integrations/{name}/check", check, methods=["POST"], name="integration_check"),
    ]
