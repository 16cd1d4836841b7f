"""The Prefect flow runs of the cycles this process runs in its own threads, for a stop that cuts one short.

A cycle called in-process (a webhook's stock sync, the order poll's upload, a state coming back) is a
Prefect flow run like a deployment's. When ``serve`` stops with such a cycle still waiting on an answer,
the process ends under it (:func:`deployments.service.serve.leave_cut_short_cycles`), and its run would show
Running in the Prefect UI for ever: nothing is left to report its end. So each in-process cycle notes
its run while it is in one, and a stop that cuts it short marks that run Crashed, saying why.
"""

from __future__ import annotations

import threading
from typing import Any
from uuid import UUID

_lock = threading.Lock()
_RUNS: dict[int, UUID] = {}  # thread ident -> the flow run that thread is in


def run_noted(flow: Any, *args: Any, **kwargs: Any) -> Any:
    """Call the Prefect ``flow`` in this thread, noting its flow run while it runs."""
    ident = threading.get_ident()

    def note(_flow: Any, flow_run: Any, _state: Any) -> None:
        with _lock:
            _RUNS[ident] = flow_run.id

    try:
        return flow.with_options(on_running=[*flow.on_running_hooks, note])(*args, **kwargs)
    finally:
        with _lock:
            _RUNS.pop(ident, None)


def unfinished() -> list[UUID]:
    """The flow runs of in-process cycles still running."""
    with _lock:
        return list(_RUNS.values())


def mark_crashed(message: str) -> list[UUID]:
    """Mark every unfinished in-process run Crashed with ``message``; returns the runs marked.

    Raises what the Prefect client raises when its API cannot be reached (the caller says so)."""
    from prefect.client.orchestration import get_client
    from prefect.states import Crashed

    runs = unfinished()
    if runs:
        with get_client(sync_client=True) as client:
            for run_id in runs:
                client.set_flow_run_state(run_id, Crashed(message=message), force=True)
    return runs
