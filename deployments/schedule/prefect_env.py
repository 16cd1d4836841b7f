"""Prefect settings that must be in place before ``prefect`` is first imported.

Measured on these machines (docs/PREFECT_NOTES in shared): the temporary server needs more than the
default 20 s to start on a cold database, analytics would try the network, and without an explicit
``PREFECT_HOME`` runs would write to ``~/.prefect``. Every entry point calls :func:`configure`
first; values the user already set win.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_HOME = Path.home() / ".skladbridge" / "prefect"
#: what to do when the configured Prefect API does not answer (the engine says only "Failed to reach API")
NO_API_FIX = (
    "start that server (`prefect server start`), or unset PREFECT_API_URL (`prefect config unset "
    "PREFECT_API_URL` if a profile sets it) to let the command start a temporary one"
)


def configure(home: Path | None = None, *, quiet: bool = False) -> Path:
    """Set Prefect defaults in the environment and return the Prefect home in use."""
    chosen = Path(os.environ.get("PREFECT_HOME") or home or DEFAULT_HOME)
    chosen.mkdir(parents=True, exist_ok=True)
    os.environ["PREFECT_HOME"] = str(chosen)
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    if quiet:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    return chosen
