"""``skladbridge links``: the "External id-objects" screen — which object of one system is which of
the other, made, listed and removed by hand.

``links add --integration shop --kind customers 123 8f…`` tells the hub that the channel's customer
123 is the ERP's counterparty ``8f…``: the order upload then uses that counterparty instead of
searching for one. Each id is checked in its own system first (one request each), and a link that
would make one id stand for two objects is refused, naming the link in the way.
"""

from __future__ import annotations

from typing import Annotated

import typer

from deployments.cli.common import ConfigOpt, fail, load, open_store, show, table
from hub.capabilities import LINK_KINDS
from tasks.links import LinkRefused, add_link, list_links, remove_link

links_app = typer.Typer(help="Links between the ids two systems give one object, by hand.", no_args_is_help=True)

IntegrationOpt = Annotated[str, typer.Option(help="the integration the link belongs to")]
KindOpt = Annotated[str, typer.Option(help=f"what is linked: {', '.join(LINK_KINDS)}")]
SOURCE_HELP = "its id in the system the kind travels from (customers, orders: the channel; offers: the ERP)"
TARGET_HELP = "its id in the system the kind travels to"


@links_app.command("list")
def list_command(integration: IntegrationOpt, kind: KindOpt, config: ConfigOpt = None) -> None:
    """The objects of a kind linked in both systems."""
    loaded = load(config, require_secrets=False)
    store = open_store(config)
    try:
        found, pairs = list_links(store, integration, loaded.integration(integration), kind)
    except LinkRefused as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()
    out = table(f"{found.source} ({found.source_system})", f"{found.target} ({found.target_system})")
    for source_id, target_id in pairs:
        out.add_row(source_id, target_id)
    show(out)
    typer.echo(f"{len(pairs)} {kind} linked")


@links_app.command("add")
def add_command(
    integration: IntegrationOpt,
    kind: KindOpt,
    source_id: Annotated[str, typer.Argument(help=SOURCE_HELP)],
    target_id: Annotated[str, typer.Argument(help=TARGET_HELP)],
    config: ConfigOpt = None,
) -> None:
    """Link two ids of one object; refused when either does not exist or is linked to another."""
    loaded = load(config)  # the systems are asked: their secrets are needed
    store = open_store(config)
    try:
        said = add_link(store, integration, loaded.integration(integration), kind, source_id, target_id)
    except LinkRefused as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()
    typer.echo(said)


@links_app.command("remove")
def remove_command(
    integration: IntegrationOpt,
    kind: KindOpt,
    source_id: Annotated[str, typer.Argument(help=SOURCE_HELP)],
    config: ConfigOpt = None,
) -> None:
    """Unlink an object: the exchanges search for (or create) its counterpart again."""
    loaded = load(config, require_secrets=False)
    store = open_store(config)
    try:
        said = remove_link(store, integration, loaded.integration(integration), kind, source_id)
    except LinkRefused as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()
    typer.echo(said)
