"""``skladbridge serve``: a small shop's whole hub in one long-running process.

* every deployment of every integration (:func:`deployments.deploy.build_deployments`: the same set
  ``skladbridge deploy`` registers), served by a Prefect ``Runner`` in this process: schedules fire,
  runs show in the Prefect UI, a run can be started from there;
* on one HTTP port, the hot paths: the stock webhook receiver (``/hooks/...``, each notice runs a
  stock cycle in this process within seconds: a deployment run would start seconds later) and the
  feed server (``/feeds/...``, what the CRM loads);
* the few-second order poll (:mod:`deployments.order_poll`): an order-upload cycle in this process
  as soon as the channel has a change;
* with no ``PREFECT_API_URL``, a Prefect server with its UI, started as a child that dies with us
  (never an orphan, even when we are killed).

SIGINT or SIGTERM stops it in order, within :data:`STOP_SECONDS` however slow an answer is: the HTTP
port closes (a webhook arriving now is retried by MoySklad), the order polls and the receiver let a
running cycle end for a few seconds, the runner cancels flow runs still running, then the Prefect
server stops — last, so the runs' final states reach it (Ctrl-C in a terminal reaches only us: the
server runs in a session of its own). A cycle still running at the deadline dies with the process:
its claimed queue items are left in progress, and the next run holding the same lock takes them back
at once (nothing is lost, and sending a batch again is harmless: it sets absolute values).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from hub.config import Config, ConfigError, resolve_secret

#: seconds from SIGINT/SIGTERM to the end of our part of the stop (the Prefect server's own follows)
STOP_SECONDS = 10.0
#: seconds the HTTP server gets to start
HTTP_START_SECONDS = 10.0


@dataclass
class Plan:
    """What one ``serve`` process serves."""

    config: Config
    config_path: Path
    deployments: list[Any]  # prefect RunnerDeployment
    hooks: Mapping[tuple[str, str], Any]  # (system, integration) -> deployments.webhooks.Hook
    feeds: dict[str, Path] = field(default_factory=dict)
    feed_secrets: dict[str, str] = field(default_factory=dict)
    polls: dict[str, float] = field(default_factory=dict)  # integration -> seconds between order polls


def published_feeds(config: Config) -> tuple[dict[str, Path], dict[str, str]]:
    """Each integration's feed file and its path secret (``feed serve`` and ``serve`` alike)."""
    from tasks.catalog.run import plan_catalog_run
    from tasks.hub_tasks import open_hub_store

    feeds: dict[str, Path] = {}
    secrets: dict[str, str] = {}
    for name, integ in config.integrations.items():
        if integ.edge("catalog") is None:
            continue
        store = open_hub_store(config)
        try:
            feeds[name] = plan_catalog_run(config, name, store).feed_path
        except ConfigError:
            continue
        finally:
            store.close()
        secret = resolve_secret(integ.options.feed.path_secret)
        if secret:
            secrets[name] = secret
    return feeds, secrets


def plan(config: Config, config_path: Path) -> Plan:
    """The deployments, webhook hooks and feeds of ``config`` (raises what their builders raise)."""
    from deployments.deploy import build_deployments
    from deployments.order_poll import polled
    from deployments.webhooks import receiving_hooks

    feeds, secrets = published_feeds(config)
    return Plan(config, config_path, build_deployments(config, config_path), receiving_hooks(config), feeds,
                secrets, polled(config))


def hub_app(config_path: Path, served: Plan) -> Starlette:
    """One ASGI app for the receiver's and the feed server's routes; anything else a bare 404."""
    from deployments.feed_server import feed_app
    from deployments.webhooks import webhook_app

    routes: list[Any] = []
    lifespan = None
    state: dict[str, Any] = {}
    if served.hooks:
        hooks = webhook_app(config_path)
        routes += hooks.routes
        lifespan = hooks.router.lifespan_context  # replays pending notices, lets cycles end on stop
        state["receiver"] = hooks.state.receiver
    if served.feeds:
        routes += feed_app(served.feeds, served.feed_secrets).routes

    async def refused(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("not found\n", 404)

    app = Starlette(routes=routes, exception_handlers={404: refused, 405: refused}, lifespan=lifespan)
    for key, value in state.items():
        setattr(app.state, key, value)
    return app


def http_server(app: Starlette, host: str, port: int) -> uvicorn.Server:
    """The hub servers' uvicorn settings (header timeout, no access log: paths hold secrets), lifespan on."""
    from deployments.http_server import server_config

    return uvicorn.Server(server_config(app, host, port, lifespan="on"))


def run(served: Plan, app: Starlette, host: str, port: int, echo: Callable[[str], Any] = print) -> None:
    """Serve until SIGINT/SIGTERM, then stop in order (see the module's docstring). Main thread only."""
    from prefect.runner import Runner

    from deployments.order_poll import start_polls
    from tasks.hub_tasks import open_hub_store

    server = http_server(app, host, port)
    # uvicorn installs no signal handlers off the main thread: the stop below is ours alone
    http = threading.Thread(target=server.run, name="skladbridge-http", daemon=True)
    http.start()
    runner = Runner(name="skladbridge-serve", pause_on_shutdown=True)
    for deployment in served.deployments:
        runner.add_deployment(deployment)  # registered with the Prefect API here, schedules included
    deadline = time.monotonic() + HTTP_START_SECONDS
    while not server.started and http.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        raise RuntimeError(f"the HTTP server did not start on {host}:{port}")
    poll_store = open_hub_store(served.config) if served.polls else None
    poller = start_polls(served.config, poll_store, served.config_path) if poll_store else None
    echo("serving; Ctrl-C or SIGTERM stops it")

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        runs = asyncio.create_task(runner.start())
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({runs, stopped}, return_when=asyncio.FIRST_COMPLETED)
        echo(f"stopping (at most {STOP_SECONDS:.0f} s): the HTTP port and the order polls first, "
             "then running flow runs ...")
        # one deadline for the whole stop: a cycle stuck on a slow answer must not hold a Ctrl-C for
        # each step's full wait in turn (its queue items stay claimable; see the module's docstring)
        deadline = time.monotonic() + STOP_SECONDS

        def left(share: float = 1.0) -> float:
            return max(0.0, (deadline - time.monotonic()) * share)

        server.should_exit = True
        if poller is not None:
            await asyncio.to_thread(poller.close, left(0.5))
        await asyncio.to_thread(http.join, left(0.8))
        # Prefect's runner takes SIGTERM itself (it stops and pauses the schedules); SIGINT is ours
        if not runs.done() and runner.started and not runner.stopping:
            await runner.astop()
        if not runs.done():
            await asyncio.wait({runs}, timeout=max(1.0, left()))
        if runs.done() and not runs.cancelled() and runs.exception() is not None:
            raise runs.exception()  # type: ignore[misc]  # the runner failed on its own: say so

    try:
        asyncio.run(main())
    finally:
        if poll_store is not None:
            poll_store.close()


def leave_cut_short_cycles(echo: Callable[[str], Any] = print) -> None:
    """End the process now if a cycle outlived the stop, instead of waiting for its slow answer.

    Python would wait at exit for Prefect's task threads, so a batch stuck on a slow CRM would hold
    Ctrl-C for as long as the CRM takes. Its queue items are in progress, taken back at once by the
    next run (see the module's docstring); the Prefect server is stopped first, as at a normal exit.
    """
    from connectors.http import first_line
    from deployments.cycle_runs import mark_crashed
    from deployments.cycle_trigger import cycles_running
    from deployments.prefect_server import stop_started_servers

    running = cycles_running()
    if not running:
        return
    echo(f"cut short: {', '.join(running)} (their claimed items go to the next run)")
    try:  # their Prefect runs would show Running for ever: nothing is left to report their end
        mark_crashed("skladbridge serve stopped while this cycle waited on an answer; its claimed queue "
                     "items are taken back by the next run")
    except Exception as exc:
        echo(f"could not mark their Prefect runs crashed: {first_line(exc)}")
    echo("stopped")
    stop_started_servers()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(0)
