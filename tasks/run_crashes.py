"""Flow runs a killed process left ``Running``, marked ``Crashed`` with the reason.

A flow run reports its own end; a process killed with SIGKILL (or a machine lost) reports nothing,
and its run would show Running in Prefect for ever. The next run of the same exchange and
integration (and ``skladbridge serve`` as it starts) marks such runs Crashed, on evidence only, so
that a run genuinely working in another live process is never touched:

* its process: every run notes ``host:pid`` of its process in the run's ``infrastructure_pid``
  (unless its worker noted one already); a run noted on this host whose process is gone is dead;
* the hub's run lock: a run holds its integration's lock for as long as it works, and the lock dies
  with its holder (the database's or the OS's). A run holding it knows that no other run of the same
  exchange and integration is working now: one that has shown Running for longer than
  :data:`GRACE_SECONDS` (time enough to have reached the lock, so not one still on its way to it)
  is dead, wherever it ran.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from connectors.http import first_line

#: how long a run may show Running without having reached its lock (loading the config, opening and
#: migrating the store, planning: seconds; the margin is for a slow start, never for a live run)
GRACE_SECONDS = 120.0
HOST = socket.gethostname()


def process_mark(pid: int | None = None) -> str:
    """``host:pid`` of this process (or of ``pid`` on this host), as runs note it."""
    return f"{HOST}:{os.getpid() if pid is None else pid}"


def process_gone(mark: str | None) -> bool:
    """Whether ``mark`` (``host:pid``) names a process of this host that no longer runs.

    Anything else (another host, a worker's own form, no mark) is no evidence: False."""
    host, sep, pid = (mark or "").rpartition(":")
    if not sep or host != HOST or not pid.isdigit():
        return False
    number = int(pid)
    if number == os.getpid():
        return False
    try:
        os.kill(number, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    try:  # killed but not yet reaped by its parent: a zombie runs nothing (Linux)
        with open(f"/proc/{number}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] == "Z"
    except OSError:
        return False


def note_process(client: Any, flow_run: Any) -> None:
    """Note this process on ``flow_run`` (``infrastructure_pid``), unless its worker noted one."""
    if not flow_run.infrastructure_pid:
        client.update_flow_run(flow_run.id, infrastructure_pid=process_mark())
        flow_run.infrastructure_pid = process_mark()


def crash_abandoned(
    flow_name: str,
    integration: str | None = None,
    *,
    lock_held: bool = False,
    current: Any = None,
    by: str = "",
    grace: float = GRACE_SECONDS,
) -> list[UUID]:
    """Mark Crashed the Running runs of ``flow_name`` (of ``integration``, if given) whose process is gone.

    Args:
        lock_held: the caller holds the run lock these runs take (then the lock is evidence too).
        current: the caller's own flow run (never marked; its start bounds the lock evidence).
        by: who marks them, for the reason (the caller's run name).
        grace: :data:`GRACE_SECONDS`.

    Returns the runs marked. Raises what the Prefect client raises when its API cannot be reached.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.states import Crashed

    marked: list[UUID] = []
    now = datetime.now(UTC)
    with get_client(sync_client=True) as client:
        if current is not None:
            note_process(client, current)
        running = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.RUNNING]))
            ),
            limit=200,
        )
        for run in running:
            if current is not None and run.id == current.id:
                continue
            if integration is not None and (run.parameters or {}).get("integration") != integration:
                continue
            why = _evidence(run, lock_held, now, grace)
            if why is None:
                continue
            message = f"{why}; marked Crashed{f' by {by}' if by else ''}"
            client.set_flow_run_state(run.id, Crashed(message=message), force=True)
            marked.append(run.id)
    return marked


def _evidence(run: Any, lock_held: bool, now: datetime, grace: float) -> str | None:
    """Why ``run``'s process is gone, or None when nothing says so."""
    if process_gone(run.infrastructure_pid):
        return f"its process ({run.infrastructure_pid}) is gone: killed before it could report its end"
    if (run.infrastructure_pid or "").rpartition(":")[0] == HOST:
        return None  # its process lives: stuck or not, it may still report its end
    started = run.start_time or (run.state.timestamp if run.state else None)
    if lock_held and started is not None and now - started > timedelta(seconds=grace):
        where = f" ({run.infrastructure_pid})" if run.infrastructure_pid else ""
        return (
            f"its process{where} is gone: it has shown Running since {started:%Y-%m-%d %H:%M:%S} UTC, yet "
            "no process holds the run lock of its integration (it dies with its holder)"
        )
    return None


def sweep_abandoned_runs(integration: str, grace: float = GRACE_SECONDS) -> list[UUID]:
    """In a flow run holding ``integration``'s run lock: mark the runs of the same exchange and
    integration a killed process left Running as Crashed; note this run's process for the next sweep.

    Never fails the run: a Prefect API that cannot be asked is logged, the next run sweeps again."""
    from prefect import get_run_logger
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    if context is None or context.flow_run is None or context.flow is None:
        return []
    logger = get_run_logger()
    try:
        marked = crash_abandoned(
            context.flow.name,
            integration,
            lock_held=True,
            current=context.flow_run,
            by=f"run {context.flow_run.name}",
            grace=grace,
        )
    except Exception as exc:  # the run's own work matters more than tidying Prefect's record
        logger.warning("could not check for runs a killed process left Running: %s", first_line(exc))
        return []
    for run_id in marked:
        logger.warning("flow run %s was left Running by a process that is gone: marked Crashed", run_id)
    return marked
