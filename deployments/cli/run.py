"""Commands that run something: ``run`` (the Prefect flows), ``demo``, ``sandbox serve``, ``feed serve``.

Prefect is configured (``prefect_env.configure``) before any flow module is imported, and flows
are imported inside the commands that run them, so ``--help`` and the store commands stay fast.
A run command checks its run lock before Prefect starts its server, and that server is started so
that it dies with the CLI (``prefect_server.ensure_prefect_api``), killed or not. The flow engine's
own traceback of a failed run stays off the console (``--debug`` shows it); the run is still
recorded as Failed in Prefect, and the CLI prints the error table's line.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from deployments.cli.common import (
    ConfigOpt,
    config_path,
    ensure_port_free,
    fail,
    load,
    pairs,
    quiet_engine_tracebacks,
    show,
)
from deployments.schedule.exchanges import EXCHANGES, Exchange
from hub.config import Config, ConfigError, find_config_path
from hub.exchanges import BY_FLOW, ran, skipped_reason

run_app = typer.Typer(help="Run an exchange (a Prefect flow) now.", no_args_is_help=True)
sandbox_app = typer.Typer(help="Run an API emulator (sandbox) on loopback.", no_args_is_help=True)
feed_app = typer.Typer(help="Catalog feeds (ICML) for the CRM.", no_args_is_help=True)


def _prefect(config: Path | None) -> None:
    """Prefect's environment (home, timeouts, no analytics): before the first Prefect import."""
    from deployments.schedule.prefect_env import configure

    path = find_config_path(config)
    configure(path.parent.resolve() / ".prefect" if path.exists() else None)


def _prefect_api() -> None:
    """The user's Prefect server, or a temporary one that dies with this process (after ``_prefect``)."""
    from deployments.schedule.prefect_server import check_answers, ensure_prefect_api

    try:
        check_answers(ensure_prefect_api())  # a configured one may point nowhere
    except RuntimeError as exc:
        raise fail(f"Prefect: {exc}") from None


def _refuse_if_running(loaded: Config, integration: str, streams: Sequence[str]) -> None:
    """Exit 1 with one line at once if another run holds the run locks, before Prefect's server starts.

    Only a probe, released again: the flow takes the same locks itself and must (deployments and
    workers run it with no CLI around), and a lock held here would refuse our own flow, as flock and
    advisory locks belong to a descriptor or a session, not to a process. A run that starts in
    between is still refused, by the flow, only later (ExchangeBusyError, the error table).
    """
    from tasks.hub_tasks import open_hub_store

    store = open_hub_store(loaded)
    try:
        with store.locks.hold(integration, *streams):
            pass
    finally:
        store.close()


@run_app.command("healthcheck")
def run_healthcheck(config: ConfigOpt = None) -> None:
    """Load the config, open the store, call every system once, and report."""
    config = config_path(config)
    load(config)  # fail fast, before Prefect starts, with the config's own message
    _prefect(config)
    _prefect_api()
    from flows.healthcheck import healthcheck

    quiet_engine_tracebacks()  # after the flow's import: importing prefect.main sets logging up again
    report = healthcheck(str(config) if config else None)
    show(pairs(report.items()))


@run_app.command("full-import")
def run_full_import(
    integration: Annotated[str, typer.Option(help="the integration to import")],
    config: ConfigOpt = None,
    catalog_wait: Annotated[float, typer.Option(help="seconds to wait for the CRM to load a changed feed")] = 0.0,
    resend_all: Annotated[bool, typer.Option(help="send all stock and prices again, whatever was sent")] = False,
) -> None:
    """Import the catalog from the integration's source into the hub and publish it to its channel."""
    config = config_path(config)
    loaded = load(config)
    if integration not in loaded.integrations:
        raise fail(f"no integration {integration!r} in the config; known: {sorted(loaded.integrations)}")
    _prefect(config)
    # imports Prefect (a few seconds) but starts nothing; the flow module names the locks it takes
    from flows.full_import import full_import
    from hub.exchanges import FULL_IMPORT

    _refuse_if_running(loaded, integration, FULL_IMPORT.locks)
    _refuse_unreachable(loaded, integration, ("catalog", "stock", "prices"))
    _prefect_api()
    quiet_engine_tracebacks()  # after the flow's import: importing prefect.main sets logging up again
    result = full_import(
        integration, str(config) if config else None, catalog_wait_seconds=catalog_wait, resend_all=resend_all
    )
    if (summary := ran(result)) is None:  # the full import fails rather than skip; said if that changes
        typer.echo(skipped_reason(result))
        return
    show(pairs((str(row["what"]), row["count"]) for row in summary["rows"]))
    for warning in summary["warnings"]:
        typer.secho(f"warning: {warning}", fg=typer.colors.YELLOW)


def _run_cycle(
    config: Path | None, integration: str, flow: str, *, refuse_busy: bool = True, **params: Any
) -> dict[str, Any] | None:
    """Run the exchange ``flows.<flow>`` once for ``integration`` and print its summary rows.

    The config is loaded and the integration checked first, Prefect's environment set before Prefect
    is imported; with ``refuse_busy`` a run that finds another one holding its locks is refused in one
    line before anything starts (stock sync instead ends cleanly by itself). None: the run skipped.
    """
    config = config_path(config)
    loaded = load(config)
    if integration not in loaded.integrations:
        raise fail(f"no integration {integration!r} in the config; known: {sorted(loaded.integrations)}")
    _refuse_without_edges(loaded, integration, flow)
    _prefect(config)
    if refuse_busy:
        _refuse_if_running(loaded, integration, BY_FLOW[flow].locks)
    _refuse_unreachable(loaded, integration, _exchange_of(flow).needs)
    run = _exchange_of(flow).load()
    _prefect_api()
    quiet_engine_tracebacks()
    result = run(integration, str(config) if config else None, trigger="cli", **params)
    if (summary := ran(result)) is None:
        typer.echo(skipped_reason(result))
        return None
    show(pairs((str(row["what"]), row["count"]) for row in summary["rows"]))
    return summary


def _refuse_unreachable(loaded: Config, integration: str, streams: Sequence[str]) -> None:
    """One cheap authenticated call to each system of the exchange's edges, before Prefect's server
    starts (seconds to tens of seconds on a busy machine): a wrong key or a closed port is told at
    once. Only a permanent error refuses the run; a transient one (5xx, a timeout) is left to the
    flow and its retries.
    """
    import asyncio

    from connectors.http import ConnectorError, UnreachableError
    from hub.capabilities import Reachable
    from hub.systems import connector
    from tasks.clients import open_capability

    integ = loaded.integrations[integration]
    aliases = sorted(
        {
            alias
            for stream in streams
            if (edge := integ.edge(stream)) is not None
            for alias in (edge.source, edge.target)
            if alias in integ.systems and connector(integ.systems[alias].system).can(Reachable)
        }
    )

    async def one(alias: str) -> None:
        async with open_capability(integ, alias, Reachable) as system:
            await system.check_access()

    async def every() -> list[BaseException | None]:
        return await asyncio.gather(*(one(alias) for alias in aliases), return_exceptions=True)

    for outcome in asyncio.run(every()):
        transient = isinstance(outcome, ConnectorError) and outcome.retryable
        if outcome is not None and (not transient or isinstance(outcome, UnreachableError)):
            raise outcome


def _refuse_without_edges(loaded: Config, integration: str, flow: str) -> None:
    """The exchange's edges checked before Prefect starts (seconds): the flow checks them again, with
    its sides' capabilities, but a config lacking the edge should not wait for a server to hear so."""
    needs = _exchange_of(flow).needs
    integ = loaded.integrations[integration]
    missing = [
        (
            f"integrations.{integration}.flows.{stream}",
            f"this exchange needs {'an' if stream[:1] in 'aeiou' else 'a'} {stream} edge, "
            f"e.g. {stream}: {{from: <system alias>, to: <system alias>}}",
        )
        for stream in needs
        if integ.edge(stream) is None
    ]
    if missing:
        raise ConfigError(str(loaded.source), missing)


def _exchange_of(flow: str) -> Exchange:
    """The deployed exchange whose flow is ``flows/<flow>.py``."""
    return next(e for e in EXCHANGES if e.entrypoint.startswith(f"flows/{flow}.py:"))


def _show_parked(summary: dict[str, Any]) -> None:
    for order_id, reason in sorted(summary["parked_reasons"].items()):
        typer.secho(f"parked: order {order_id}: {reason}", fg=typer.colors.YELLOW)


@run_app.command("stock-sync")
def run_stock_sync(
    integration: Annotated[str, typer.Option(help="the integration whose stock to sync")],
    config: ConfigOpt = None,
    full: Annotated[bool, typer.Option(help="read all stock, not only what changed (a reconciliation)")] = False,
) -> None:
    """One stock-sync cycle: stock that changed at the source since the last cycle, to the channel."""
    _run_cycle(config, integration, "stock_sync", refuse_busy=False, full=full)


@run_app.command("order-upload")
def run_order_upload(
    integration: Annotated[str, typer.Option(help="the integration whose orders to upload")],
    config: ConfigOpt = None,
) -> None:
    """One order-upload cycle: the channel's new and changed orders to the ERP, exactly once."""
    summary = _run_cycle(config, integration, "order_upload")
    if summary is not None:
        _show_parked(summary)


def _day(option: str, text: str) -> date:
    """A ``YYYY-MM-DD`` option's day, or exit with one line."""
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise fail(f"{option}: {text} is not a date (YYYY-MM-DD)")


@run_app.command("archive-backfill")
def run_archive_backfill(
    integration: Annotated[str, typer.Option(help="the integration whose past orders to upload")],
    date_from: Annotated[str, typer.Option("--from", help="the first day of the period, YYYY-MM-DD")],
    date_to: Annotated[str, typer.Option("--to", help="the last day of the period (inclusive), YYYY-MM-DD")],
    status: Annotated[list[str] | None, typer.Option(help="a channel status to take (repeat; none: all)")] = None,
    config: ConfigOpt = None,
) -> None:
    """Upload the channel's orders created in a past period to the ERP (resumes where a run broke off)."""
    first, last = _day("--from", date_from), _day("--to", date_to)
    if first > last:
        raise fail(f"--from {first} is after --to {last}")
    summary = _run_cycle(
        config, integration, "archive_backfill", date_from=first, date_to=last, statuses=status or None
    )
    if summary is None:
        return
    _show_parked(summary)
    if not summary["done"]:
        typer.secho(
            "more pages left: run the same command again (or let the archive-backfill deployment go on)",
            fg=typer.colors.YELLOW,
        )


@run_app.command("order-status-sync")
def run_order_status_sync(
    integration: Annotated[str, typer.Option(help="the integration whose order states to bring back")],
    config: ConfigOpt = None,
) -> None:
    """One status-sync cycle: the ERP's changed order states to the channel as the mapped statuses."""
    _run_cycle(config, integration, "order_status_sync")


@run_app.command("order-documents")
def run_order_documents(
    integration: Annotated[str, typer.Option(help="the integration whose orders' documents to make")],
    config: ConfigOpt = None,
) -> None:
    """One documents cycle: the shipments, returns and payments the orders are due, in the ERP."""
    _run_cycle(config, integration, "order_documents")


@run_app.command("two-way-sync")
def run_two_way_sync(
    integration: Annotated[str, typer.Option(help="the integration whose customers and order changes to sync")],
    config: ConfigOpt = None,
) -> None:
    """One two-way cycle: customers both ways, order changes and retail sales of the ERP back to the channel."""
    _run_cycle(config, integration, "two_way_sync")


def demo(
    products: Annotated[
        int | None, typer.Option(min=1, help="products in the generated catalog (default: 3000; a pair's own)")
    ] = None,
    workdir: Annotated[Path, typer.Option(help="where the demo keeps its config, hub and feed")] = Path(
        "skladbridge-demo"
    ),
    pair: Annotated[
        str,
        typer.Option(
            help="moysklad (MoySklad ⇄ retailCRM) | horoshop (Horoshop ⇄ retailCRM) | keycrm (keyCRM ⇄ MoySklad)"
        ),
    ] = "moysklad",
) -> None:
    """Run the demo of a pair on the bundled sandboxes: no account, no network, no set-up."""
    from deployments.demo.run import PAIRS, run_pair

    if pair not in PAIRS:
        raise fail(f"unknown pair {pair!r}: {', '.join(sorted(PAIRS))}")
    from deployments.schedule.prefect_env import configure

    configure(workdir.resolve() / ".prefect")  # the home run_demo sets, early enough for the server
    _prefect_api()
    run_pair(pair, workdir.resolve(), products, echo=typer.echo)


@sandbox_app.command("serve")
def sandbox_serve(
    system: Annotated[
        str | None, typer.Argument(help="moysklad | retailcrm | horoshop | keycrm (or --world demo)")
    ] = None,
    port: Annotated[int, typer.Option(help="loopback port")] = 8081,
    products: Annotated[int, typer.Option(help="moysklad: generated products")] = 1000,
    token: Annotated[str | None, typer.Option(help="moysklad: accepted bearer token")] = None,
    login: Annotated[str | None, typer.Option(help="moysklad: accepted login (user@account)")] = None,
    password: Annotated[str | None, typer.Option(help="moysklad, horoshop: accepted password")] = None,
    api_key: Annotated[str | None, typer.Option(help="retailcrm, keycrm: accepted API key")] = None,
    world: Annotated[
        str | None,
        typer.Option(
            help="demo: both sandboxes and the feed server as the demo has them, the CRM's catalog loaded; "
            "horoshop: the Horoshop pair's shop, CRM and feed server"
        ),
    ] = None,
    workdir: Annotated[Path, typer.Option(help="--world: where its config, hub and feed go")] = Path(
        ".skladbridge-world"
    ),
    pair: Annotated[str, typer.Option(help="--world demo: moysklad (default) or horoshop")] = "moysklad",
) -> None:
    """Run a sandbox on 127.0.0.1 until Ctrl-C; prints its URL and the credentials it accepts."""
    if world == "horoshop" or (world == "demo" and pair == "horoshop"):
        from deployments.demo.horoshop_pair import serve_horoshop_world

        serve_horoshop_world(workdir.resolve(), products, echo=typer.echo)
        return
    if world is not None:
        if world != "demo":
            raise fail(f"unknown world {world!r}: demo or horoshop")
        if products < 1:
            raise fail(f"--products {products}: the demo world needs at least 1 product")
        from deployments.demo.world import serve_world

        serve_world(workdir.resolve(), products, echo=typer.echo)
        return
    if system is None:
        raise fail("which sandbox? `skladbridge sandbox serve moysklad` or `... retailcrm`, or `--world demo`")
    if system not in ("moysklad", "retailcrm", "horoshop", "keycrm"):
        raise fail(f"unknown system {system!r}: moysklad, retailcrm, horoshop or keycrm, or --world demo")
    ensure_port_free("127.0.0.1", port)
    if system == "horoshop":
        from connectors.horoshop.sandbox.kit import sandbox_shop

        sandbox_shop(products, password=password).serve(port)
        return
    if system == "moysklad":
        from connectors.moysklad.sandbox import serve as serve_moysklad

        serve_moysklad(products, port, token, login, password)
    elif system == "keycrm":
        from connectors.keycrm.sandbox import KeyCRMSandbox

        keycrm = KeyCRMSandbox(api_key=api_key or "sandbox-key")
        keycrm.seed_catalog(products)
        keycrm.serve(port)
    else:
        from connectors.retailcrm.sandbox import RetailCRMSandbox

        key = api_key or "sandbox-key"
        RetailCRMSandbox(api_key=key).serve(port, key)


@feed_app.command("serve")
def feed_serve(
    config: ConfigOpt = None,
    port: Annotated[int, typer.Option(help="port to listen on")] = 8090,
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
) -> None:
    """Serve each integration's ICML feed at /feeds/<integration>/<secret>.xml (the URL the CRM loads).

    The secret is options.feed.path_secret; wrong names and secrets get the same bare 404. A feed
    without a secret is served at /feeds/<integration>.xml, and only on a loopback interface.
    """
    from deployments.service.feed_server import FeedExposureError, check_exposure, feed_url, serve_feeds
    from deployments.service.serve import published_feeds
    from tasks.catalog.pictures import pictures_of

    loaded = load(config)  # path secrets are resolved: an unset one fails here, naming it
    feeds, secrets = published_feeds(loaded)
    if not feeds:
        raise fail("no integration publishes a catalog feed (a flows.catalog edge to a feed channel)")
    try:
        check_exposure(host, feeds, secrets)
    except FeedExposureError as exc:
        raise fail(str(exc)) from None
    ensure_port_free(host, port)
    for name, path in sorted(feeds.items()):
        # the secret itself is not printed: the console may be logged; the CRM's ymlUrl gets it from you
        shown = feed_url(f"http://{host}:{port}", name, "<path_secret>" if name in secrets else None)
        typer.echo(f"{shown}  <- {path}")
    serve_feeds(feeds, secrets, host, port, pictures=pictures_of(loaded, feeds))  # /images/... when configured
