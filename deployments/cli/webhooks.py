"""``skladbridge webhooks``: subscribe the stock source to the hub's receiver, list it, serve it.

The receiver's URL carries the integration's token (``options.stock.webhook_secret``), so nothing
here prints it: URLs are shown with ``<token>`` in its place, and other receivers of the account
only by their origin (their paths may hold secrets of their own).
"""

from __future__ import annotations

import asyncio
from typing import Annotated
from urllib.parse import urlsplit

import typer

from deployments.cli.common import (
    ConfigOpt,
    config_path,
    ensure_port_free,
    fail,
    load,
    quiet_engine_tracebacks,
    show,
    table,
)
from hub.capabilities import StockEvents
from hub.config import Config

webhooks_app = typer.Typer(
    help="Stock webhooks: the source's subscriptions and the hub's receiver.", no_args_is_help=True
)

IntegrationOpt = Annotated[str, typer.Option(help="the integration whose stock source notifies the hub")]


def _hook(loaded: Config, integration: str) -> tuple[str, str, str]:
    """(source alias, system, token) of ``integration``; exits with one line when it takes no webhooks."""
    from deployments.service.webhooks import WebhookSetupError, receiving_hooks

    integ = loaded.integration(integration)  # an unknown name: the error table lists the known ones
    if not integ.options.stock.webhook_secret:
        raise fail(
            f"integration {integration!r} takes no stock webhooks: set options.stock.webhook_secret "
            "to a secret reference (${ENV_VAR} or prefect-secret:<block>)"
        )
    try:
        hooks = receiving_hooks(loaded)
    except WebhookSetupError as exc:
        raise fail(str(exc)) from None
    found = next((h for h in hooks.values() if h.integration == integration), None)
    if found is None:
        raise fail(f"integration {integration!r} is not active: it takes no webhooks")
    return found.alias, found.system, found.token.decode()


@webhooks_app.command("register")
def register(
    integration: IntegrationOpt,
    public_url: Annotated[
        str, typer.Option(help="where the stock source reaches this hub's receiver, e.g. https://hub.example.com")
    ],
    config: ConfigOpt = None,
) -> None:
    """Subscribe the stock source to the receiver, idempotently; our subscriptions to other URLs are removed."""
    from deployments.service.webhooks import hook_url, masked
    from tasks.clients import open_capability

    parts = urlsplit(public_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise fail(
            f"--public-url must be an absolute http(s) URL with no query, e.g. https://hub.example.com; "
            f"got {public_url!r}"
        )
    loaded = load(config)
    alias, system, token = _hook(loaded, integration)
    url, ours = hook_url(public_url, system, integration, token), hook_url(public_url, system, integration, "")

    async def subscribe() -> list[str]:
        async with open_capability(loaded.integrations[integration], alias, StockEvents) as events:
            return await events.subscribe(url, ours=ours)

    try:
        lines = asyncio.run(subscribe())
    except ValueError as exc:  # the URL does not suit the source (too long for MoySklad, ...)
        raise fail(f"{integration}: {exc}") from None
    except Exception as exc:
        for line in getattr(exc, "done", ()):  # what was done before the source refused the rest
            typer.echo(f"  {line}")
        raise
    typer.echo(f"{integration}: {system} ({alias}) notifies {masked(url)}")
    for line in lines:
        typer.echo(f"  {line}")


@webhooks_app.command("register-changes")
def register_changes(
    integration: IntegrationOpt,
    public_url: Annotated[
        str, typer.Option(help="where the ERP reaches this hub's receiver, e.g. https://hub.example.com")
    ],
    config: ConfigOpt = None,
) -> None:
    """Subscribe the ERP's counterparty updates and retail sales to the receiver (two-way sync), idempotently."""
    from deployments.service.change_hooks import receiving_change_hooks
    from deployments.service.webhooks import WebhookSetupError, hook_url, masked
    from hub.capabilities.two_way import ErpChangeEvents
    from tasks.clients import open_capability

    parts = urlsplit(public_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise fail(f"--public-url must be an absolute http(s) URL with no query; got {public_url!r}")
    loaded = load(config)
    integ = loaded.integration(integration)
    try:
        hook = next((h for h in receiving_change_hooks(loaded).values() if h.integration == integration), None)
    except WebhookSetupError as exc:
        raise fail(str(exc)) from None
    edge = integ.edge("orders")
    if hook is None or edge is None:
        raise fail(
            f"integration {integration!r} takes no change webhooks: set options.two_way.webhook_secret "
            "to a secret reference (${ENV_VAR} or prefect-secret:<block>)"
        )
    url = hook_url(public_url, hook.system, integration, hook.token.decode())
    ours = hook_url(public_url, hook.system, integration, "")

    async def subscribe() -> list[str]:
        async with open_capability(integ, edge.target, ErpChangeEvents) as events:
            return await events.subscribe_changes(url, ours=ours)

    try:
        lines = asyncio.run(subscribe())
    except ValueError as exc:
        raise fail(f"{integration}: {exc}") from None
    typer.echo(f"{integration}: {hook.system} ({edge.target}) posts its changes to {masked(url)}")
    for line in lines:
        typer.echo(f"  {line}")


@webhooks_app.command("list")
def list_subscriptions(integration: IntegrationOpt, config: ConfigOpt = None) -> None:
    """The stock source's stock-related subscriptions: ours with the token masked, others by origin."""
    from deployments.service.webhooks import masked
    from tasks.clients import open_capability

    loaded = load(config)
    alias, system, _ = _hook(loaded, integration)

    async def listed() -> list[dict[str, str]]:
        async with open_capability(loaded.integrations[integration], alias, StockEvents) as events:
            return await events.subscriptions()

    rows = asyncio.run(listed())
    out = table("kind", "receiver", "state")
    ours = f"/hooks/{system}/{integration}/"
    for row in rows:
        target = urlsplit(row["url"])
        # the public URL may have a path of its own (a reverse proxy's prefix)
        shown = masked(row["url"]) if ours in target.path else f"{target.scheme}://{target.netloc}/… (another receiver)"
        out.add_row(row["kind"], shown, row["state"])
    show(out)
    if not rows:
        typer.echo(
            f"no stock subscriptions yet: skladbridge webhooks register --integration {integration} --public-url URL"
        )


@webhooks_app.command("serve")
def serve(
    config: ConfigOpt = None,
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8091,
) -> None:
    """Run the receiver until Ctrl-C; each notice starts a stock-sync cycle of its integration in this process."""
    from deployments.cli.run import _prefect, _prefect_api
    from deployments.service.webhooks import (
        WebhookSetupError,
        receiving_hooks,
        receiving_stock_echoes,
        serve_webhooks,
        webhook_app,
    )

    config = config_path(config)
    loaded = load(config)
    from deployments.service.change_hooks import receiving_change_hooks
    from deployments.service.order_hooks import receiving_order_hooks

    try:
        hooks = receiving_hooks(loaded)
        order_hooks = receiving_order_hooks(loaded)
        change_hooks = receiving_change_hooks(loaded)
    except WebhookSetupError as exc:
        raise fail(str(exc)) from None
    if not hooks and not order_hooks and not change_hooks:
        raise fail(
            "no integration takes stock webhooks: set options.stock.webhook_secret of one whose "
            "flows.stock source sends them"
        )
    ensure_port_free(host, port)
    _prefect(config)  # the cycles are the stock-sync flow, run here
    _prefect_api()
    quiet_engine_tracebacks()
    for (system, name), hook in sorted(hooks.items()):
        typer.echo(f"http://{host}:{port}/hooks/{system}/{name}/<token>  -> stock sync of {name} (from {hook.alias})")
    echoes = receiving_stock_echoes(loaded, order_hooks)
    for system, name in sorted(order_hooks):
        also = (
            "; its stock webhook (POST) -> its own echo ignored, changes written back"
            if (system, name) in echoes
            else ""
        )
        typer.echo(f"http://{host}:{port}/hooks/{system}/{name}/<token>  -> order upload of {name} (POST or GET){also}")
    for system, name in sorted(change_hooks):
        typer.echo(f"http://{host}:{port}/hooks/{system}/{name}/<token>  -> two-way sync of {name} (its own token)")
    serve_webhooks(webhook_app(config), host, port)
