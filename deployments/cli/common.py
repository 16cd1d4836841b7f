"""What every ``skladbridge`` command shares: the global options, the error table, output helpers.

An error a user can act on ends in one line (what failed, where, what to do) and exit code 1; the
traceback only with ``--debug``. :data:`ERRORS` maps exception types to those lines, by dotted
name so that nothing slow (Prefect, SQLAlchemy) is imported to build it.
"""

from __future__ import annotations

import errno
import logging
import socket
import sys
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup, TyperOption

from hub.config import Config, load_config


class State:
    """The global options (``skladbridge [--config PATH] [--debug] COMMAND``) of this invocation."""

    config: Path | None = None
    debug: bool = False


ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="config file (default: $SKLADBRIDGE_CONFIG or ./skladbridge.yaml)"),
]


def config_path(explicit: Path | None) -> Path | None:
    """The command's own ``--config``, else the global one."""
    return explicit or State.config


def _connector(what: str, fix: str) -> Callable[[Any], str]:
    return lambda exc: f"{exc.system} {exc.endpoint}: {what} ({exc}); {fix}"


#: exception type (dotted name, most specific first) -> the line a user reads. Airbyte-style: config
#: problems say which key to fix, system problems where it failed, transient ones to try again.
ERRORS: tuple[tuple[str, Callable[[Any], str]], ...] = (
    # a secret missing from Prefect is no mistake in the file: its own line says what to create
    (
        "hub.config.ConfigError",
        lambda exc: (
            str(exc)
            if exc.source == "prefect"
            else (f"config error:\n{exc}\nfix the config, then `skladbridge config check`")
        ),
    ),
    (
        "connectors.http.errors.AuthError",
        _connector("credentials refused", "fix token / login+password / api_key of this system in the config"),
    ),
    (
        "connectors.http.errors.UnreachableError",
        _connector(
            "nothing answers there", "check its base_url (host and port) in the config and that the system runs"
        ),
    ),
    (
        "connectors.http.errors.TransientError",
        _connector("no answer", "check its base_url in the config and that it is reachable, then run again"),
    ),
    (
        "connectors.http.errors.MalformedResponseError",
        _connector("the answer is not its API", "check that base_url points at the API, not a web page; run again"),
    ),
    ("connectors.http.errors.ServerError", _connector("the system keeps failing", "run again later")),
    ("connectors.http.errors.RateLimitedError", _connector("rate limited", "run again later")),
    ("connectors.http.errors.ConnectorError", _connector("refused", "see the message; fix the data or config")),
    (
        "tasks.hub_tasks.HealthcheckFailed",
        lambda exc: f"{exc}\nfix the credentials or base_url of those systems in the config",
    ),
    ("tasks.orders.backfill.UnknownStatuses", lambda exc: f"{exc}\ngive --status one of those (or none: all)"),
    ("tasks.publish.UploadsFailed", lambda exc: f"{exc}\nsee `skladbridge queue list --status failed`"),
    ("tasks.mapping_check.MappingError", lambda exc: f"{exc}\nfix the mappings of the integration in the config"),
    ("connectors.http.redis_budget.BudgetUnavailableError", str),  # it says what to do itself
    ("deployments.demo.errors.DemoError", lambda exc: f"demo: {exc}"),
    ("hub.store.locks.ExchangeBusyError", lambda exc: f"{exc}; wait for that run to finish"),
    (
        "sqlalchemy.exc.SQLAlchemyError",
        lambda exc: (
            f"hub store: cannot open the database ({first_line(getattr(exc, 'orig', None) or exc)}); check "
            "database_url (scheme, host, port, role, password) and that the database server runs"
        ),
    ),
    ("hub.store.errors.StoreError", lambda exc: f"hub store: {exc}"),
)


def first_line(exc: BaseException) -> str:
    """:func:`connectors.http.first_line`, imported when an error needs it: the CLI starts without httpx."""
    from hub.redaction import first_line as redacted_first_line

    return redacted_first_line(exc)


def explain(exc: BaseException) -> str:
    """The one-line (per problem) message for ``exc``, secrets masked."""
    from hub.redaction import redact

    names = [f"{cls.__module__}.{cls.__qualname__}" for cls in type(exc).__mro__]
    for name, message in ERRORS:
        if name in names:
            return redact(message(exc))
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return f"address in use ({exc}): pick another --port"
    if isinstance(exc, RuntimeError) and "Failed to reach API" in str(exc):  # Prefect's engine and client
        from deployments.schedule.prefect_env import NO_API_FIX

        return redact(f"Prefect: {first_line(exc)}; {NO_API_FIX}")
    return redact(f"{type(exc).__name__}: {first_line(exc)} (run with --debug for the traceback)")


def fail(message: str) -> typer.Exit:
    """Print ``message`` in red on stderr; raise the returned Exit (code 1)."""
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


class ReportingGroup(TyperGroup):
    """The top-level group: any exception a command lets through becomes :func:`explain`'s line.

    One exit code for every error, usage errors included: click exits 2 for those (a missing
    option, an unknown command, a value of the wrong type), everything else here exits 1, and a
    script should not have to tell the two apart to know the command failed.
    """

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().make_context(*args, **kwargs)
        except Exception as exc:  # the top level's own options
            _exit_1_on_usage_error(exc)
            raise

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            if type(exc).__module__.startswith(("typer", "click")):
                _exit_1_on_usage_error(exc)  # a subcommand's arguments
                raise  # click's exceptions print themselves
            if State.debug:
                traceback.print_exc()
            raise fail(explain(exc)) from None


def _exit_1_on_usage_error(exc: Exception) -> None:
    # typer 0.29 carries its own copy of click (typer._click): its UsageError is matched by name
    if any(cls.__name__ == "UsageError" for cls in type(exc).__mro__):
        setattr(exc, "exit_code", 1)  # noqa: B010 - an instance attribute over click's class default


class EngineTracebacksOff(logging.Filter):
    """Keeps the flow engine's logged tracebacks off the console (the API handler still gets them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        engine = record.name.startswith(("prefect.flow_runs", "prefect.task_runs"))
        return State.debug or not (engine and record.exc_info)


def quiet_engine_tracebacks() -> None:
    """Install :class:`EngineTracebacksOff` on the console handlers, Prefect's logging set up first."""
    from prefect.logging.configuration import ensure_logging_setup

    ensure_logging_setup()  # once per process; later calls are incremental and keep the handlers
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, EngineTracebacksOff) for f in handler.filters):
            handler.addFilter(EngineTracebacksOff())


def _flag_type(self: TyperOption, ctx: Any) -> str | None:
    # typer 0.29 prints a type for every option, flags too ("--dead <bool>"); a flag takes no value
    return None if self.is_flag else _TYPED(self, ctx)


_TYPED = TyperOption.display_type_rich
TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign]


def load(path: Path | None, *, require_secrets: bool = True) -> Config:
    """The config (a ConfigError reaches the error table)."""
    return load_config(config_path(path), require_secrets=require_secrets)


def open_store(path: Path | None, *, create_dir: bool = False) -> Any:
    """The hub store (``create_dir``: make a SQLite file's missing folder, as ``db upgrade`` does)."""
    from tasks.hub_tasks import open_hub_store

    # the store needs no credentials
    return open_hub_store(load(path, require_secrets=False), create_dir=create_dir)


def ensure_port_free(host: str, port: int, option: str = "--port") -> None:
    """Exit 1 with one line when ``host:port`` is taken (before a server logs its own traceback);
    ``option`` is the one that chose the port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # as the servers themselves bind (uvicorn sets it): the TIME-WAIT sockets a stop leaves
        # behind do not block the port for a minute, a socket listening on it still does
        if hasattr(socket, "SO_REUSEADDR") and sys.platform != "win32":  # on Windows it lets two listen
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}; pick another {option}") from None


def table(*columns: str, right: Iterable[str] = ()) -> Table:
    """A plain table: a bold header, no borders (readable in a terminal, greppable in a pipe)."""
    out = Table(box=None, header_style="bold", pad_edge=False)
    aligned = set(right)
    for column in columns:
        out.add_column(column, justify="right" if column in aligned else "left")
    return out


def pairs(rows: Iterable[tuple[str, Any]]) -> Table:
    """``name: value`` lines with the names right-aligned (run reports)."""
    out = Table(box=None, show_header=False, pad_edge=False)
    out.add_column(justify="right")
    out.add_column()
    for name, value in rows:
        out.add_row(f"{name}:", str(value))
    return out


def show(renderable: Table) -> None:
    # created per call: typer's test runner swaps sys.stdout; cells are data, never rich markup or
    # emoji codes (an error text with "[/store]" in it would otherwise fail to print)
    console = Console(highlight=False, markup=False, emoji=False)
    if not console.is_terminal:
        console.width = 10_000  # piped or redirected: whole lines, never wrapped at 80 columns
    console.print(renderable)
