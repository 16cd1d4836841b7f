"""``skladbridge serve``: every deployment, the webhook receiver and the feeds in one process."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from deployments.cli.common import (
    ConfigOpt,
    config_path,
    ensure_port_free,
    fail,
    first_line,
    load,
    quiet_engine_tracebacks,
)
from hub.config import Config, find_config_path


def serve(
    config: ConfigOpt = None,
    host: Annotated[str, typer.Option(help="interface of the webhook receiver and the feeds")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port of the webhook receiver and the feeds")] = 8090,
    prefect_port: Annotated[
        int, typer.Option(help="port of the Prefect server (UI and API) started when PREFECT_API_URL is unset")
    ] = 4200,
) -> None:
    """Run a small shop's hub until Ctrl-C or SIGTERM: every exchange on its schedule (Prefect UI),
    the stock webhook receiver (/hooks/...) and the feeds (/feeds/...) on one port, and the order poll.

    With PREFECT_API_URL unset, a Prefect server with its UI is started on --prefect-port; it stops with this command.
    """
    from deployments.cli.run import _prefect
    from deployments.service.feed_server import FeedExposureError, check_exposure, feed_url
    from deployments.service.webhooks import WebhookSetupError, masked

    path = find_config_path(config_path(config))  # the command's --config, else the global one
    loaded = load(path)
    _prefect(path)  # Prefect's home and settings before Prefect is imported
    from deployments.schedule.prefect_server import ensure_prefect_api
    from deployments.service.serve import crash_left_running, hub_app, leave_cut_short_cycles, leave_pooled, plan, run

    try:
        served = plan(loaded, path)
    except WebhookSetupError as exc:
        raise fail(str(exc)) from None
    if not served.deployments:
        raise fail("the config has no integration to serve")
    try:
        check_exposure(host, served.feeds, served.feed_secrets)
    except FeedExposureError as exc:
        raise fail(str(exc)) from None
    ensure_port_free(host, port)
    if not _configured_api():
        ensure_port_free("127.0.0.1", prefect_port, "--prefect-port")
    try:
        api = ensure_prefect_api(whole=True, port=prefect_port)
    except RuntimeError as exc:
        raise fail(f"Prefect: {exc}") from None
    quiet_engine_tracebacks()
    typer.echo(f"Prefect API: {api}")
    listed = list(served.deployments)
    pooled = leave_pooled(served)
    try:
        crashed = crash_left_running([deployment.flow_name for deployment in listed])
    except Exception as exc:  # the API answered leave_pooled: a hiccup here must not keep the hub down
        typer.echo(f"could not look for runs a killed process left Running: {first_line(exc)}")
    else:
        if crashed:
            typer.echo(f"marked Crashed: {len(crashed)} flow run(s) left Running by a process that is gone")
    for deployment in listed:
        when = ", ".join(_schedule(s) for s in deployment.schedules) or "on demand"
        pool = pooled.get(deployment.full_name)
        note = (
            f" (left to the workers of work pool {pool}: `skladbridge deploy` registered it there)"
            if pool
            else " (paused)"
            if deployment.paused
            else ""
        )
        typer.echo(f"  {deployment.flow_name}/{deployment.name}: {when}{note}")
    base = f"http://{host}:{port}"
    for (system, integration), _hook in sorted(served.hooks.items()):
        what = {"OrderHook": "order upload", "ChangeHook": "two-way sync"}.get(type(_hook).__name__, "stock sync")
        typer.echo(f"webhooks: {masked(f'{base}/hooks/{system}/{integration}/x')}  -> {what} of {integration}")
    for name, seconds in sorted(served.polls.items()):
        typer.echo(f"orders: the channel of {name} asked for changes every {seconds:g} s -> order upload")
    for name in sorted(served.feeds):
        typer.echo(f"feed: {feed_url(base, name, '<path_secret>' if name in served.feed_secrets else None)}")
    run(served, hub_app(path, served, _console(loaded, host, base)), host, port, echo=typer.echo)
    leave_cut_short_cycles(typer.echo)  # stops the Prefect server in the stop's time and says "stopped"


def _console(loaded: Config, host: str, base: str) -> Any:
    """The web console to mount at /console, or None (said why) on an address it may not serve yet."""
    from deployments.console import ConsoleOff, console_allowed, console_app
    from tasks.hub_tasks import open_hub_store

    try:
        console_allowed(loaded, host)
    except ConsoleOff as exc:
        typer.echo(f"console: {exc}")
        return None
    typer.echo(f"console: {base}/console/")
    return console_app(loaded, lambda: open_hub_store(loaded))


def _configured_api() -> bool:
    from prefect.settings import get_current_settings

    return bool(get_current_settings().api.url)


def _schedule(schedule: object) -> str:
    """``every 10m`` / ``cron 0 3 * * * Europe/Moscow``: worded as ``skladbridge deploy`` words a period."""
    from hub.periods import Period

    inner = getattr(schedule, "schedule", schedule)
    interval = getattr(inner, "interval", None)
    if interval is not None:
        return Period(None, seconds=int(interval.total_seconds())).describe()
    cron = getattr(inner, "cron", None)
    if cron:
        return f"{Period(None, cron=cron).describe()} {getattr(inner, 'timezone', None) or 'UTC'}"
    return str(inner)
