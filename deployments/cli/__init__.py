"""The ``skladbridge`` command line: the app, its global options, and where each command lives.

* :mod:`deployments.cli.common` - global state, the error table (one line per error, exit 1;
  ``--debug`` for the traceback), output helpers;
* :mod:`deployments.cli.store` - ``config check``, ``db``, ``queue``, ``journal``;
* :mod:`deployments.cli.run` - ``run``, ``demo``, ``sandbox serve``, ``feed serve``;
* :mod:`deployments.cli.webhooks` - ``webhooks register``, ``list``, ``serve``;
* :mod:`deployments.cli.deploy` - ``deploy`` (Prefect deployments, ``prefect.yaml``);
* :mod:`deployments.cli.serve` - ``serve`` (everything of a small shop in one process);
* :mod:`deployments.cli.console` - ``console`` (the web console on its own, ``hash-password``).
* :mod:`deployments.cli.links` - ``links list``, ``add``, ``remove`` (ids of one object, by hand).
"""

from __future__ import annotations

from typing import Annotated

import typer

from deployments.cli import console as cli_console
from deployments.cli import deploy as cli_deploy
from deployments.cli import links as cli_links
from deployments.cli import run as cli_run
from deployments.cli import serve as cli_serve
from deployments.cli import store as cli_store
from deployments.cli import webhooks as cli_webhooks
from deployments.cli.common import ConfigOpt, ReportingGroup, State

app = typer.Typer(
    name="skladbridge",
    help="Sklad Bridge: keeps sales channels and stock systems in sync.",
    cls=ReportingGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def main_options(
    config: ConfigOpt = None,
    debug: Annotated[bool, typer.Option("--debug", help="show the traceback of an error")] = False,
) -> None:
    """Sklad Bridge: keeps sales channels and stock systems in sync."""
    State.config = config
    State.debug = debug


app.add_typer(cli_store.config_app, name="config")
app.add_typer(cli_store.db_app, name="db")
app.add_typer(cli_store.queue_app, name="queue")
app.command("journal")(cli_store.journal)
app.add_typer(cli_run.run_app, name="run")
app.command("demo")(cli_run.demo)
app.add_typer(cli_run.sandbox_app, name="sandbox")
app.add_typer(cli_run.feed_app, name="feed")
app.add_typer(cli_webhooks.webhooks_app, name="webhooks")
app.command("deploy")(cli_deploy.deploy)
app.command("serve")(cli_serve.serve)
app.add_typer(cli_console.console_app, name="console")
app.add_typer(cli_links.links_app, name="links")


def main() -> None:  # pragma: no cover - console entry point
    app()
