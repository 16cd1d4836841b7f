"""``skladbridge serve``: a small shop's whole hub in one long-running process.

* every deployment of every integration (:func:`deployments.schedule.deploy.build_deployments`: the same set
  ``skladbridge deploy`` registers), served by a Prefect ``Runner`` in this process: schedules fire,
  runs show in the Prefect UI, a run can be started from there;
* on one HTTP port, the hot paths: the stock webhook receiver (``/hooks/...``, each notice runs a
  stock cycle in this process within seconds: a deployment run would start seconds later) and the
  feed server (``/feeds/...``, what the CRM loads);
* the few-second order poll (:mod:`deployments.service.order_poll`): an order-upload cycle in this process
  as soon as the channel has a change;
* with no ``PREFECT_API_URL``, a Prefect server with its UI, started as a child that dies with us
  (never an orphan, even when we are killed).

SIGINT or SIGTERM stops it in order, the process gone within :data:`STOP_SECONDS` however slow an
answer is: the HTTP port closes (a webhook arriving now is retried by MoySklad), the runner cancels
its flow runs while the order polls and the receiver let a running cycle end, all within
:data:`WAIT_SECONDS`; runs still running then are killed and marked Crashed, the deployments served
are paused, Prefect's last logs and events are sent, then the Prefect server stops — last, so the
runs' final states reach it (Ctrl-C in a terminal reaches only us: the server runs in a session of
its own). A cycle still running at the deadline dies with the process: its claimed queue items are
left in progress, and the next run holding the same lock takes them back at once (nothing is lost,
and sending a batch again is harmless: it sets absolute values).

Deployments ``skladbridge deploy`` put on a work pool are its workers': serve neither serves nor
pauses them (:func:`leave_pooled`, :func:`pause_served`). Runs a killed serve left Running are
marked Crashed as it starts (:func:`crash_left_running`).
"""

from __future__ import annotations

import asyncio
import contextlib
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

#: seconds from SIGINT/SIGTERM to the end of the process (the README's promise), the Prefect server's stop included
STOP_SECONDS = 10.0
#: of those, what the cycles and flow runs get to end; the rest is for pausing the deployments, marking
#: runs cut short Crashed and stopping the Prefect server (measured: ~1-2 s together; see the README)
WAIT_SECONDS = 6.5
#: of those, kept for the Prefect server's stop and the exit itself
EXIT_SECONDS = 1.5
#: seconds the HTTP server gets to start
HTTP_START_SECONDS = 10.0


@dataclass
class Plan:
    """What one ``serve`` process serves."""

    config: Config
    config_path: Path
    deployments: list[Any]  # prefect RunnerDeployment
    hooks: Mapping[tuple[str, str], Any]  # (system, integration) -> deployments.service.webhooks.Hook
    feeds: dict[str, Path] = field(default_factory=dict)
    feed_secrets: dict[str, str] = field(default_factory=dict)
    polls: dict[str, float] = field(default_factory=dict)  # integration -> seconds between order polls
    #: deployments left to a work pool's workers (``skladbridge deploy``'s): full name -> pool
    pooled: dict[str, str] = field(default_factory=dict)


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
    from deployments.schedule.deploy import as_switched, build_deployments
    from deployments.service.change_hooks import receiving_change_hooks
    from deployments.service.order_hooks import receiving_order_hooks
    from deployments.service.order_poll import polled
    from deployments.service.webhooks import receiving_hooks

    feeds, secrets = published_feeds(config)
    return Plan(
        config,
        config_path,
        # paused as the console last switched them; the receivers take what arrives either way (a
        # switched-off integration's runs skip, and its notices wait for it to be switched on)
        build_deployments(as_switched(config), config_path),
        # an ERP's change hook shares the stock hook's path (listed once, as the stock one)
        {**receiving_change_hooks(config), **receiving_hooks(config), **receiving_order_hooks(config)},
        feeds,
        secrets,
        polled(config),
    )


def leave_pooled(served: Plan) -> dict[str, str]:
    """Take out of ``served`` the deployments a work pool runs; return them (full name -> pool).

    ``skladbridge deploy`` registers the same deployments on a work pool for its workers. Serving one
    would rewrite it as this process's and pause it at the stop (what Prefect's runner does to every
    deployment it served), so the workers' schedules would stop until the next ``deploy``: such a
    deployment is left as it is, to its workers. Those without a pool (a runner's) are served."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    pooled: dict[str, str] = {}
    ours = []
    with get_client(sync_client=True) as client:
        for deployment in served.deployments:
            try:
                existing = client.read_deployment_by_name(deployment.full_name)
            except ObjectNotFound:
                ours.append(deployment)
                continue
            if existing.work_pool_name:
                pooled[deployment.full_name] = existing.work_pool_name
            else:
                ours.append(deployment)
    served.deployments, served.pooled = ours, pooled
    return pooled


def crash_left_running(flow_names: list[str]) -> list[Any]:
    """Mark Crashed the runs of these flows that a killed process left Running (a serve killed with
    ``kill -9`` and the cycles it ran): those noted on this host whose process is gone. Runs elsewhere
    are left to the next run of their exchange, which holds the lock to tell (:mod:`tasks.run_crashes`)."""
    from tasks.run_crashes import crash_abandoned

    marked: list[Any] = []
    for name in sorted(set(flow_names)):
        marked += crash_abandoned(name, by="skladbridge serve as it started")
    return marked


async def pause_served(deployment_ids: list[Any]) -> list[Any]:
    """Pause the deployments this process served, as Prefect's runner does at its stop (nobody runs
    their schedules now), except any a work pool has taken since (``skladbridge deploy`` while we ran):
    its workers run them. Returns the ids paused."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    paused = []
    async with get_client() as client:
        for deployment_id in deployment_ids:
            try:
                now = await client.read_deployment(deployment_id)
            except ObjectNotFound:
                continue
            if now.work_pool_name or now.paused:
                continue
            await client.pause_deployment(deployment_id)
            paused.append(deployment_id)
    return paused


def hub_app(config_path: Path, served: Plan, console: Any = None) -> Starlette:
    """One ASGI app for the receiver's and the feed server's routes, and the web console at ``/console``
    when given (:mod:`deployments.console`); anything else a bare 404."""
    from deployments.service.feed_server import feed_app
    from deployments.service.webhooks import webhook_app
    from tasks.catalog.pictures import pictures_of

    routes: list[Any] = []
    lifespan = None
    state: dict[str, Any] = {}
    if served.hooks:
        hooks = webhook_app(config_path)
        routes += hooks.routes
        lifespan = hooks.router.lifespan_context  # replays pending notices, lets cycles end on stop
        state["receiver"] = hooks.state.receiver
    if served.feeds:
        routes += feed_app(served.feeds, served.feed_secrets, pictures_of(served.config, served.feeds)).routes
    if console is not None:
        from starlette.routing import Mount

        routes.append(Mount("/console", app=console))

    async def refused(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("not found\n", 404)

    app = Starlette(routes=routes, exception_handlers={404: refused, 405: refused}, lifespan=lifespan)
    for key, value in state.items():
        setattr(app.state, key, value)
    return app


def http_server(app: Starlette, host: str, port: int) -> uvicorn.Server:
    """The hub servers' uvicorn settings (header timeout, no access log: paths hold secrets), lifespan on."""
    from deployments.service.http_server import server_config

    return uvicorn.Server(server_config(app, host, port, lifespan="on"))


def run(served: Plan, app: Starlette, host: str, port: int, echo: Callable[[str], Any] = print) -> None:
    """Serve until SIGINT/SIGTERM, then stop in order (see the module's docstring). Main thread only."""
    from prefect.runner import Runner

    from deployments.service.order_poll import start_polls
    from tasks.hub_tasks import open_hub_store

    # a stop asked for while we start (Python's default would end us at once, mid-registration) is
    # kept for main() below, which takes the signals over
    early = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: early.set())
    server = http_server(app, host, port)
    # uvicorn installs no signal handlers off the main thread: the stop below is ours alone
    http = threading.Thread(target=server.run, name="skladbridge-http", daemon=True)
    http.start()
    # Prefect's own pause at the stop takes every deployment it served by id, even one a work pool
    # has taken over since: pause_served pauses only those still ours
    runner = Runner(name="skladbridge-serve", pause_on_shutdown=False)
    # registered with the Prefect API here, schedules included
    served_ids = [runner.add_deployment(deployment) for deployment in served.deployments]
    deadline = time.monotonic() + HTTP_START_SECONDS
    while not server.started and http.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        raise RuntimeError(f"the HTTP server did not start on {host}:{port}")
    poll_store = open_hub_store(served.config) if served.polls else None
    poller = start_polls(served.config, poll_store, served.config_path) if poll_store else None

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        # with every deployment left to a work pool there is nothing to run (nor a runner to stop)
        runs = asyncio.create_task(runner.start() if served_ids else stop.wait())
        await asyncio.sleep(0)  # the runner's start takes SIGTERM for itself first thing: take it back
        # (its own stop would cancel its runs one by one, each checked every 3 s, before ours began)
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        if early.is_set():
            stop.set()
        echo("serving; Ctrl-C or SIGTERM stops it")  # now that a stop is taken in order
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({runs, stopped}, return_when=asyncio.FIRST_COMPLETED)
        _STOP.begin()
        echo(f"stopping (at most {STOP_SECONDS:.0f} s): the HTTP port, the order polls and running flow runs ...")
        # one deadline for the whole stop: a cycle stuck on a slow answer must not hold a Ctrl-C for
        # each step's full wait in turn (its queue items stay claimable; see the module's docstring).
        # The runner's runs are cancelled meanwhile, not after: Prefect kills them one by one, each
        # checked every few seconds
        server.should_exit = True
        if not served_ids:
            runs.cancel()
        stopping = (
            loop.create_task(runner.astop()) if not runs.done() and runner.started and not runner.stopping else None
        )
        if poller is not None:
            await asyncio.to_thread(poller.close, _STOP.left(0.5))
        await asyncio.to_thread(http.join, _STOP.left())
        if not runs.done():
            await asyncio.wait({runs}, timeout=_STOP.left())
        if not runs.done():
            if stopping is not None:
                stopping.cancel()
            cut = _kill_runner_runs(runner)
            if cut:
                echo(f"cut short: {len(cut)} flow run(s) of the deployments (killed at the stop's deadline)")
                await _mark_crashed(
                    cut,
                    "skladbridge serve stopped while this run was still running: its process "
                    "was killed at the stop's deadline",
                )
        elif not runs.cancelled() and runs.exception() is not None:
            raise runs.exception()  # type: ignore[misc]  # the runner failed on its own: say so
        try:
            await asyncio.wait_for(pause_served(served_ids), timeout=max(0.5, _STOP.spare()))
        except TimeoutError:
            echo("could not pause the served deployments in time: pause them in the Prefect UI")

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(main())
    except BaseException:
        _close(loop)
        raise
    finally:
        if poll_store is not None:
            poll_store.close()
    # not asyncio.run's end: it would wait for every task left, such as a runner still killing the
    # runs cut short with a 30 s grace each; the stop ends the process (leave_cut_short_cycles)


def _close(loop: asyncio.AbstractEventLoop) -> None:
    """asyncio.run's end, when serve fails: its tasks cancelled, the loop closed."""
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.close()


class _Stop:
    """The stop's deadline: :data:`WAIT_SECONDS` for cycles and runs to end, :data:`STOP_SECONDS` in all."""

    started: float | None = None

    def begin(self) -> None:
        self.started = time.monotonic()

    def left(self, share: float = 1.0) -> float:
        """Seconds still to wait for cycles and runs (``share`` of them)."""
        return self._until(WAIT_SECONDS) * share

    def spare(self) -> float:
        """Seconds still before what is kept for the Prefect server's stop and the exit."""
        return self._until(STOP_SECONDS - EXIT_SECONDS)

    def to_end(self) -> float:
        """Seconds still before the end of the whole stop, less half a second for the exit itself."""
        return self._until(STOP_SECONDS - 0.5)

    def _until(self, seconds: float) -> float:
        start = time.monotonic() if self.started is None else self.started
        return max(0.0, start + seconds - time.monotonic())


_STOP = _Stop()


def _kill_runner_runs(runner: Any) -> list[Any]:
    """Kill the processes of the runner's flow runs still running; their ids (Prefect's runner keeps
    them in its process manager, an internal: none are killed if a Prefect upgrade moved it)."""
    manager = getattr(runner, "_process_manager", None)
    if manager is None or not hasattr(manager, "flow_run_ids"):
        return []
    killed = []
    for run_id in list(manager.flow_run_ids()):
        handle = manager.get(run_id)
        if handle is None:
            continue
        with contextlib.suppress(ProcessLookupError):
            handle.hard_kill()
        killed.append(run_id)
    return killed


async def _mark_crashed(run_ids: list[Any], message: str) -> None:
    from prefect.client.orchestration import get_client
    from prefect.states import Crashed

    async with get_client() as client:
        for run_id in run_ids:
            await client.set_flow_run_state(run_id, Crashed(message=message), force=True)


def leave_cut_short_cycles(echo: Callable[[str], Any] = print) -> None:
    """End the stop: mark the runs of cycles that outlived it Crashed, send Prefect's last logs and
    events, stop the Prefect server in the time left of :data:`STOP_SECONDS`, say "stopped", end the process.

    Python would wait at exit for Prefect's task threads, so a batch stuck on a slow CRM would hold
    Ctrl-C for as long as the CRM takes. Its queue items are in progress, taken back at once by the
    next run (see the module's docstring).
    """
    from connectors.http import first_line
    from deployments.schedule.prefect_server import stop_started_servers
    from deployments.service.cycle_runs import cycles_running, mark_crashed

    running = cycles_running()
    if running:
        echo(f"cut short: {', '.join(running)} (their claimed items go to the next run)")
        try:  # their Prefect runs would show Running for ever: nothing is left to report their end
            mark_crashed(
                "skladbridge serve stopped while this cycle waited on an answer; its claimed queue "
                "items are taken back by the next run"
            )
        except Exception as exc:
            echo(f"could not mark their Prefect runs crashed: {first_line(exc)}")
    _drain_prefect(timeout=max(0.2, min(1.0, _STOP.spare())))
    # last, so that the runs' final states reached it; whatever is left of the stop, less the exit's own
    stop_started_servers(timeout=max(0.3, _STOP.to_end()))
    echo("stopped")
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    # everything is closed and sent: Python's own exit would still join Prefect's threads and retry
    # its last sends to the server just stopped (measured: 2.3 s), or wait for a cut-short cycle's answer
    os._exit(0)


def _drain_prefect(timeout: float) -> None:
    """Send the runs' last logs and events to the Prefect server while it still runs."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        with contextlib.suppress(Exception):  # nothing to send, or a server already gone: no reason to wait
            worker.drain_all(timeout=timeout)
