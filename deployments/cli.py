"""The ``skladbridge`` command line.

Prefect is configured (``prefect_env.configure``) before any flow module is imported, and flows
are imported inside the commands that run them, so ``--help`` and the store commands stay fast.
A run command checks its run lock before Prefect starts its server, and that server is started so
that it dies with the CLI (``prefect_server.ensure_prefect_api``), killed or not.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from hub.config import Config, ConfigError, find_config_path, load_config, redacted_dump

app = typer.Typer(
    name="skladbridge",
    help="Sklad Bridge: keeps sales channels and stock systems in sync.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
config_app = typer.Typer(help="Check the integration config.", no_args_is_help=True)
db_app = typer.Typer(help="The hub store (database).", no_args_is_help=True)
queue_app = typer.Typer(help="The exchange queue: outbound work, failures, retries.", no_args_is_help=True)
run_app = typer.Typer(help="Run an exchange (a Prefect flow) now.", no_args_is_help=True)
sandbox_app = typer.Typer(help="Run an API emulator (sandbox) on loopback.", no_args_is_help=True)
feed_app = typer.Typer(help="Catalog feeds (ICML) for the CRM.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
app.add_typer(queue_app, name="queue")
app.add_typer(run_app, name="run")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(feed_app, name="feed")

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="config file (default: $SKLADBRIDGE_CONFIG or ./skladbridge.yaml)"),
]


def _fail(message: str) -> typer.Exit:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


def _table(*columns: str, right: Iterable[str] = ()) -> Table:
    """A plain table: a bold header, no borders (readable in a terminal, greppable in a pipe)."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    aligned = set(right)
    for column in columns:
        table.add_column(column, justify="right" if column in aligned else "left")
    return table


def _pairs(rows: Iterable[tuple[str, Any]]) -> Table:
    """``name: value`` lines with the names right-aligned (run reports)."""
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(justify="right")
    table.add_column()
    for name, value in rows:
        table.add_row(f"{name}:", str(value))
    return table


def _print(table: Table) -> None:
    # created per call: typer's test runner swaps sys.stdout; cells are data, never rich markup or
    # emoji codes (an error text with "[/store]" in it would otherwise fail to print)
    console = Console(highlight=False, markup=False, emoji=False)
    if not console.is_terminal:
        console.width = 10_000  # piped or redirected: whole lines, never wrapped at 80 columns
    console.print(table)


def _config(path: Path | None, *, require_secrets: bool = True) -> Config:
    try:
        return load_config(path, require_secrets=require_secrets)
    except ConfigError as exc:
        raise _fail(f"config error:\n{exc}") from None


def _store(path: Path | None) -> Any:
    from tasks.hub_tasks import open_hub_store

    return open_hub_store(_config(path, require_secrets=False))  # the store needs no credentials


# -- config -------------------------------------------------------------------------------------


@config_app.command("check")
def config_check(config: ConfigOpt = None) -> None:
    """Validate the config and print it with secrets redacted (exit 1 on any error)."""
    loaded = _config(config)
    typer.echo(f"# {find_config_path(config)}: valid")
    typer.echo(yaml.safe_dump(redacted_dump(loaded), allow_unicode=True, sort_keys=False).rstrip())


# -- db -----------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(config: ConfigOpt = None) -> None:
    """Create or migrate the hub store to the current schema."""
    store = _store(config)
    try:
        typer.echo(f"{store.dialect} store at revision {store.current_revision()} (head {store.head_revision()})")
    finally:
        store.close()


# -- queue --------------------------------------------------------------------------------------


@queue_app.command("list")
def queue_list(
    config: ConfigOpt = None,
    integration: Annotated[str | None, typer.Option(help="only this integration")] = None,
    status: Annotated[str | None, typer.Option(help="pending | in_progress | done | dead")] = None,
    kind: Annotated[str | None, typer.Option(help="only this kind of work")] = None,
    limit: Annotated[int, typer.Option(help="rows at most")] = 50,
) -> None:
    """List exchange-queue items, newest work first, with counts by status."""
    from hub.store import QueueStatus

    store = _store(config)
    try:
        try:
            wanted = QueueStatus(status) if status else None
        except ValueError:
            raise _fail(f"unknown status {status!r}; one of {[s.value for s in QueueStatus]}") from None
        counts = store.queue.counts(integration)
        typer.echo("counts: " + (", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "empty"))
        items = store.queue.list(integration=integration, kind=kind, status=wanted, limit=limit)
        if items:
            table = _table("id", "integration", "kind", "status", "tries", "last error", right=("id", "tries"))
            for item in items:
                error = (item.last_error or "").splitlines()[0][:60] if item.last_error else ""
                status_text = item.status.value if hasattr(item.status, "value") else str(item.status)
                table.add_row(str(item.id), item.integration, item.kind, status_text,
                              f"{item.attempts}/{item.max_attempts}", error)
            _print(table)
    finally:
        store.close()


@queue_app.command("show")
def queue_show(item_id: int, config: ConfigOpt = None) -> None:
    """Show one queue item whole: payload, attempts, last error, result."""
    store = _store(config)
    try:
        item = store.queue.get(item_id)
        if item is None:
            raise _fail(f"no queue item {item_id}")
        data = {k: (v.value if hasattr(v, "value") else v) for k, v in vars(item).items()}
        typer.echo(json.dumps(data, default=str, ensure_ascii=False, indent=2))
    finally:
        store.close()


@queue_app.command("retry")
def queue_retry(
    item_id: Annotated[int | None, typer.Argument(help="the item to retry now")] = None,
    dead: Annotated[bool, typer.Option("--dead", help="retry every dead item")] = False,
    integration: Annotated[str | None, typer.Option(help="with --dead: only this integration")] = None,
    config: ConfigOpt = None,
) -> None:
    """Make a failed or dead item due now (the next run of its exchange sends it)."""
    from hub.store import StoreError

    if item_id is None and not dead:
        raise _fail("give an item id, or --dead to retry every dead item")
    store = _store(config)
    try:
        if dead:
            typer.echo(f"{store.queue.retry_dead(integration=integration)} dead item(s) made due again")
        if item_id is not None:
            try:
                item = store.queue.retry(item_id)
            except StoreError as exc:
                raise _fail(str(exc)) from None
            typer.echo(f"item {item.id} is {item.status.value}, due now")
    finally:
        store.close()


# -- journal ------------------------------------------------------------------------------------


@app.command("journal")
def journal(
    config: ConfigOpt = None,
    integration: Annotated[str | None, typer.Option(help="only this integration")] = None,
    level: Annotated[str | None, typer.Option(help="this level and above: debug|info|warning|error")] = None,
    limit: Annotated[int, typer.Option(help="entries at most")] = 50,
) -> None:
    """Show what happened, newest first."""
    store = _store(config)
    try:
        entries = store.journal.list(integration=integration, level=level, limit=limit)
        if not entries:
            typer.echo("journal is empty")
            return
        table = _table("at", "level", "integration", "event", "message")
        for entry in entries:
            table.add_row(entry.at.strftime("%Y-%m-%d %H:%M:%S"), entry.level, entry.integration or "-",
                          entry.event, entry.message)
        _print(table)
    finally:
        store.close()


# -- run ----------------------------------------------------------------------------------------


def _prefect(config: Path | None) -> None:
    """Prefect's environment (home, timeouts, no analytics): before the first Prefect import."""
    from deployments.prefect_env import configure

    path = find_config_path(config)
    configure(path.parent.resolve() / ".prefect" if path.exists() else None)


def _prefect_api() -> None:
    """The user's Prefect server, or a temporary one that dies with this process (after ``_prefect``)."""
    from deployments.prefect_server import ensure_prefect_api

    try:
        ensure_prefect_api()
    except RuntimeError as exc:
        raise _fail(f"Prefect: {exc}") from None


def _refuse_if_running(loaded: Config, integration: str, streams: Sequence[str]) -> None:
    """Exit 1 with one line at once if another run holds the run locks, before Prefect's server starts.

    Only a probe, released again: the flow takes the same locks itself and must (deployments and
    workers run it with no CLI around), and a lock held here would refuse our own flow, as flock and
    advisory locks belong to a descriptor or a session, not to a process. A run that starts in
    between is still refused, by the flow, only later.
    """
    from hub.store import ExchangeBusyError
    from tasks.hub_tasks import open_hub_store

    store = open_hub_store(loaded)
    try:
        with store.locks.hold(integration, *streams):
            pass
    except ExchangeBusyError as exc:
        raise _fail(str(exc)) from None
    finally:
        store.close()


@run_app.command("healthcheck")
def run_healthcheck(config: ConfigOpt = None) -> None:
    """Load the config, open the store and report (proves the wiring)."""
    _config(config)  # fail fast, before Prefect starts, with the config's own message
    _prefect(config)
    _prefect_api()
    from flows.healthcheck import healthcheck

    report = healthcheck(str(config) if config else None)
    _print(_pairs(report.items()))


@run_app.command("full-import")
def run_full_import(
    integration: Annotated[str, typer.Option(help="the integration to import")],
    config: ConfigOpt = None,
    catalog_wait: Annotated[float, typer.Option(help="seconds to wait for the CRM to load a changed feed")] = 0.0,
    resend_all: Annotated[bool, typer.Option(help="send all stock and prices again, whatever was sent")] = False,
) -> None:
    """Import the catalog from the integration's source into the hub and publish it to its channel."""
    loaded = _config(config)
    if integration not in loaded.integrations:
        raise _fail(f"no integration {integration!r} in the config; known: {sorted(loaded.integrations)}")
    _prefect(config)
    # imports Prefect (a few seconds) but starts nothing; the flow module names the locks it takes
    from flows.full_import import STREAMS, full_import
    from hub.store import ExchangeBusyError
    from tasks.mapping_check import MappingError
    from tasks.publish import UploadsFailed

    _refuse_if_running(loaded, integration, STREAMS)
    _prefect_api()
    try:
        summary = full_import(integration, str(config) if config else None, catalog_wait_seconds=catalog_wait,
                              resend_all=resend_all)
    except (MappingError, ConfigError, ExchangeBusyError, UploadsFailed) as exc:
        # UploadsFailed: the run's summary artifact and `queue list` say what was not accepted
        raise _fail(str(exc)) from None
    _print(_pairs((str(row["what"]), row["count"]) for row in summary["rows"]))
    for warning in summary["warnings"]:
        typer.secho(f"warning: {warning}", fg=typer.colors.YELLOW)


# -- demo ---------------------------------------------------------------------------------------


@app.command("demo")
def demo(
    products: Annotated[int, typer.Option(help="products in the generated MoySklad catalog")] = 3000,
    workdir: Annotated[Path, typer.Option(help="where the demo keeps its config, hub and feed")] = Path(
        "skladbridge-demo"
    ),
) -> None:
    """Run the full import on the bundled sandboxes: no account, no network, no set-up."""
    from deployments.prefect_env import configure

    configure(workdir.resolve() / ".prefect")  # the home run_demo sets, early enough for the server
    _prefect_api()
    from deployments.demo import run_demo

    run_demo(workdir.resolve(), products=products, echo=typer.echo)


# -- sandboxes and feeds ------------------------------------------------------------------------


@sandbox_app.command("serve")
def sandbox_serve(
    system: Annotated[str | None, typer.Argument(help="moysklad | retailcrm (or --world demo)")] = None,
    port: Annotated[int, typer.Option(help="loopback port")] = 8081,
    products: Annotated[int, typer.Option(help="moysklad: generated products")] = 1000,
    token: Annotated[str | None, typer.Option(help="moysklad: accepted bearer token")] = None,
    login: Annotated[str | None, typer.Option(help="moysklad: accepted login (user@account)")] = None,
    password: Annotated[str | None, typer.Option(help="moysklad: accepted password")] = None,
    api_key: Annotated[str | None, typer.Option(help="retailcrm: accepted API key")] = None,
    world: Annotated[str | None, typer.Option(help="demo: both sandboxes and the feed server as the demo has "
                                                   "them, the CRM's catalog loaded")] = None,
    workdir: Annotated[Path, typer.Option(help="--world: where its config, hub and feed go")] = Path(
        ".skladbridge-world"),
) -> None:
    """Run a sandbox on 127.0.0.1 until Ctrl-C; prints its URL and the credentials it accepts."""
    if world is not None:
        if world != "demo":
            raise _fail(f"unknown world {world!r}: demo")
        from deployments.sandbox_world import serve_world

        serve_world(workdir.resolve(), products, echo=typer.echo)
    elif system == "moysklad":
        from connectors.moysklad.sandbox import serve as serve_moysklad

        serve_moysklad(products, port, token, login, password)
    elif system == "retailcrm":
        from connectors.retailcrm.sandbox import RetailCRMSandbox

        key = api_key or "sandbox-key"
        RetailCRMSandbox(api_key=key).serve(port, key)
    else:
        raise _fail(f"unknown system {system!r}: moysklad or retailcrm, or --world demo")


@feed_app.command("serve")
def feed_serve(
    config: ConfigOpt = None,
    port: Annotated[int, typer.Option(help="port to listen on")] = 8090,
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
) -> None:
    """Serve every integration's ICML feed at /feeds/<integration>.xml (the URL the CRM loads)."""
    import uvicorn

    from connectors.retailcrm.feed_server import feed_app as make_feed_app
    from tasks.catalog_run import plan_catalog_run

    loaded = _config(config, require_secrets=False)
    feeds: dict[str, Path] = {}
    for name, integ in loaded.integrations.items():
        if integ.edge("catalog") is not None:
            store = _store(config)
            try:
                feeds[name] = plan_catalog_run(loaded, name, store).feed_path
            except ConfigError:
                continue
            finally:
                store.close()
    for name, path in sorted(feeds.items()):
        typer.echo(f"http://{host}:{port}/feeds/{name}.xml  <- {path}")
    uvicorn.run(make_feed_app(feeds), host=host, port=port, log_level="warning")


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
