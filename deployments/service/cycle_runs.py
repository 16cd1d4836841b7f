"""The cycles this process runs in its own threads, each with its Prefect flow run while it is in one:
the one registry a stop reads to say which cycles it cut short and to mark their runs Crashed.

A cycle called in-process (a webhook's stock sync, the order poll's upload, a state coming back) is a
Prefect flow run like a deployment's. When ``serve`` stops with such a cycle still waiting on an answer,
the process ends under it (:func:`deployments.service.serve.leave_cut_short_cycles`), and its run would show
Running in the Prefect UI for ever: nothing is left to report its end. So each in-process cycle notes
its run while it is in one, and a stop that cuts it short marks that run Crashed, saying why.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any
from uuid import UUID

_lock = threading.Lock()
#: every cycle thread of this process (weakly: ended ones drop out) -> the flow run it is in, if any
_CYCLES: weakref.WeakKeyDictionary[threading.Thread, UUID | None] = weakref.WeakKeyDictionary()


def track(thread: threading.Thread) -> None:
    """Count ``thread`` among the cycles (a trigger's worker, named ``exchange/integration``)."""
    with _lock:
        _CYCLES.setdefault(thread, None)


def run_noted(flow: Any, *args: Any, **kwargs: Any) -> Any:
    """Call the Prefect ``flow`` in this thread, noting its flow run while it runs."""
    thread = threading.current_thread()
    with _lock:
        tracked = thread in _CYCLES

    def note(_flow: Any, flow_run: Any, _state: Any) -> None:
        with _lock:
            _CYCLES[thread] = flow_run.id

    try:
        return flow.with_options(on_running=[*flow.on_running_hooks, note])(*args, **kwargs)
    finally:
        with _lock:
            if tracked:
                _CYCLES[thread] = None
            else:
                _CYCLES.pop(thread, None)


def cycles_running() -> list[str]:
    """The cycles of this process still running, by thread name (``exchange/integration``)."""
    with _lock:
        return sorted(thread.name for thread in list(_CYCLES) if thread.is_alive())


def unfinished() -> list[UUID]:
    """The flow runs of in-process cycles still running."""
    with _lock:
        return [run for thread, run in list(_CYCLES.items()) if run is not None]


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
