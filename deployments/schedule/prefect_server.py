"""The Prefect API a command-line run talks to: the user's server, or a temporary one tied to us.

With ``PREFECT_API_URL`` unset, Prefect starts its own temporary server as a child process and stops
it from an ``atexit`` hook, which never runs when the CLI is killed (SIGKILL, or SIGTERM with its
default action): the server was left running, ~230 MB each. So the CLI starts that server itself,
the same way Prefect does (Prefect's ``SubprocessASGIServer``: same app, settings, port choice,
health wait and start-up timeout), but through ``die_with_parent.py``, which makes the kernel (Linux)
or a watcher thread (anywhere) kill it when the CLI goes away. ``PREFECT_API_URL`` then points at
it for the rest of the process, so Prefect itself never starts an unguarded one.

When a Prefect API is configured (``PREFECT_API_URL`` in the environment or the active profile, or
a test harness), that server is used and nothing is started.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from prefect.server.api.server import SubprocessASGIServer
from prefect.settings import get_current_settings

from deployments.schedule.prefect_env import NO_API_FIX

GUARD = Path(__file__).resolve().with_name("die_with_parent.py")


class GuardedServer(SubprocessASGIServer):
    """Prefect's temporary server, started so that it dies with this process."""

    # an own registry: Prefect hands out one instance per port from this class attribute, and its
    # own callers must never be given ours (nor we theirs)
    _instances: dict[int | None, SubprocessASGIServer] = {}  # noqa: RUF012 - Prefect's own attribute
    #: a temporary server (no UI, Prefect's ephemeral services only: no scheduler), or, for
    #: ``skladbridge serve``, a whole one: UI and every service, schedules included
    whole = False

    def _run_uvicorn_command(self) -> subprocess.Popen[Any]:
        # Prefect's command and environment for its temporary server (prefect/server/api/server.py,
        # 3.8-3.9), run under the guard; the UI off, services limited as for its own ephemeral server
        guard = ["--parent", str(os.getpid())]
        if threading.current_thread() is threading.main_thread():
            # PR_SET_PDEATHSIG fires when the starting *thread* ends; only the main thread lives as
            # long as the process (elsewhere the polling watcher alone does the job)
            guard.append("--pdeathsig")
        return subprocess.Popen(
            args=[
                sys.executable,
                str(GUARD),
                *guard,
                "--",
                "uvicorn",
                "--factory",
                "prefect.server.api.server:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "error",
                "--lifespan",
                "on",
            ],
            env={
                **os.environ,
                **(
                    {"PREFECT_UI_ENABLED": "1"}
                    if self.whole
                    else {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1"}
                ),
                "PREFECT__SERVER_FINAL": "1",
                **get_current_settings().to_environment_variables(exclude_unset=True),
            },
            # Ctrl-C in a terminal signals the whole foreground group: the server must outlive our
            # stop so that our runs' last states and events reach it; we stop it, or the guard does
            start_new_session=True,
        )


class WholeServer(GuardedServer):
    """``prefect server start`` as a guarded child: the UI, the scheduler and the other services."""

    _instances: dict[int | None, SubprocessASGIServer] = {}  # noqa: RUF012 - see GuardedServer
    whole = True


def is_guarded(process: subprocess.Popen[Any] | None) -> bool:
    """Whether ``process`` was started under ``die_with_parent.py``."""
    return process is not None and isinstance(process.args, list) and str(GUARD) in process.args


def ensure_prefect_api(*, whole: bool = False, port: int | None = None) -> str:
    """Return the Prefect API URL this process uses, starting a guarded temporary server if none is set.

    Call it after ``prefect_env.configure`` (the server inherits that environment) and before the
    first flow runs; the server then serves every run of this process and stops at its exit.

    Raises:
        RuntimeError: the server did not start, or started without the guard (a Prefect upgrade
            changed how it starts its server: better to stop than to leave servers behind again).
    """
    configured = get_current_settings().api.url
    if configured:
        return configured
    server = WholeServer(port) if whole else GuardedServer()
    server.start()  # Prefect's wait for /health, with PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS
    if not is_guarded(server.server_process):
        server.stop()
        raise RuntimeError(
            "the temporary Prefect server was started without the die-with-parent guard (did a Prefect "
            "upgrade rename SubprocessASGIServer._run_uvicorn_command?); set PREFECT_API_URL to a "
            "running Prefect server instead"
        )
    # the environment for anything started from here on and for settings read afresh; the refresh
    # for the global settings Prefect read when it was imported (threads fall back to those)
    os.environ["PREFECT_API_URL"] = server.api_url
    # Prefect would derive a UI address from the API's and log "View at <url>" for every run, but
    # a temporary server serves no UI (as Prefect's own temporary one) and is gone when the command ends
    os.environ.setdefault("PREFECT_UI_URL", server.api_url.removesuffix("/api") if whole else "")
    from prefect.context import refresh_global_settings_context

    refresh_global_settings_context()
    return server.api_url


def check_answers(api_url: str) -> None:
    """Raise RuntimeError saying what to do when nothing answers at ``api_url`` (any HTTP answer will
    do: a Prefect Cloud workspace may answer 401 here and still be right). The engine would say only
    "Failed to reach API", after the run had started."""
    from urllib.parse import urlsplit

    import httpx

    try:
        httpx.get(f"{api_url.rstrip('/')}/health", timeout=5.0)
    except httpx.TransportError as exc:
        parts = urlsplit(api_url)  # printed without any user:password it may carry
        where = parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]).geturl()
        raise RuntimeError(
            f"the Prefect API at {where} (PREFECT_API_URL) does not answer ({type(exc).__name__}); {NO_API_FIX}"
        ) from None


def stop_started_servers(timeout: float = 5.0) -> None:
    """Stop the Prefect servers this process started, killed if one takes over ``timeout`` seconds in all
    (Prefect's own stop waits 5 s for each; it also runs from ``atexit``, which a forced exit skips)."""
    deadline = time.monotonic() + timeout
    for cls in (GuardedServer, WholeServer):
        for server in list(cls._instances.values()):
            process = server.server_process
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    process.kill()  # the guard's child dies with it (see die_with_parent.py)
                    process.wait()
            server.stop()  # Prefect's bookkeeping; the process has ended
