"""``skladbridge console``: the web console on its own (``serve`` also serves it, at ``/console/``);
``skladbridge console hash-password``: a password hash for ``console.users``."""

from __future__ import annotations

from typing import Annotated

import typer

from deployments.cli.common import ConfigOpt, config_path, ensure_port_free, fail, load

console_app = typer.Typer(
    help="The web console: integrations, queue, journal, mappings, links (see the README).",
    invoke_without_command=True,
    no_args_is_help=False,
)


@console_app.callback()
def console(
    ctx: typer.Context,
    config: ConfigOpt = None,
    host: Annotated[str, typer.Option(help="interface to listen on (not loopback: needs console.users)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8092,
) -> None:
    """Serve the web console at http://HOST:PORT/console/ until Ctrl-C.

    Without console.users in the config it listens on a loopback address only; with users, every page
    needs a login. The Prefect server is the one of PREFECT_API_URL (the Active switch and the run
    buttons need it).
    """
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import RedirectResponse
    from starlette.routing import Mount, Route

    from deployments.console import ConsoleOff, console_allowed
    from deployments.console import console_app as build
    from deployments.service.http_server import server_config
    from tasks.hub_tasks import open_hub_store

    loaded = load(config_path(config), require_secrets=False)
    try:
        console_allowed(loaded, host)
    except ConsoleOff as exc:
        raise fail(str(exc)) from None
    ensure_port_free(host, port)

    async def home(request: object) -> RedirectResponse:
        return RedirectResponse("/console/", 307)

    app = Starlette(routes=[Route("/", home), Mount("/console", app=build(loaded, lambda: open_hub_store(loaded)))])
    typer.echo(f"console: http://{host}:{port}/console/  (Ctrl-C stops it)")
    uvicorn.Server(server_config(app, host, port)).run()


@console_app.command("hash-password")
def hash_password(
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="the password (asked for)")
    ],
) -> None:
    """Print the password_hash of a console user (scrypt, salted) for console.users.<name>.password_hash."""
    from deployments.console.auth import hash_password as hashed

    if len(password) < 10:
        raise fail("use a password of at least 10 characters")
    typer.echo(hashed(password))
