"""Runs a killed process left Running are marked Crashed by the next run, on evidence only: a run
killed with ``kill -9`` is, a run of a live process (here or, within the grace, elsewhere) is not."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL
from prefect.states import Cancelled, Running

from hub.store import open_store
from tasks.run_crashes import GRACE_SECONDS, crash_abandoned, process_mark, sweep_abandoned_runs

pytestmark = pytest.mark.usefixtures("prefect_backend")

REPO = Path(__file__).resolve().parents[2]
FLOW = "abandoned-runs-probe"

#: a run of the probe flow in its own process: it takes the lock as the exchanges' flows do, sweeps,
#: says so and works until it is killed
_WORKER = f"""
import sys, time
from prefect import flow
from hub.store import open_store
from tasks.run_crashes import sweep_abandoned_runs

@flow(name={FLOW!r})
def probe(integration: str, database_url: str, seconds: float) -> None:
    store = open_store(database_url)
    with store.locks.hold(integration, "probe"):
        sweep_abandoned_runs(integration)
        print("working", flush=True)
        time.sleep(seconds)

probe(sys.argv[1], sys.argv[2], 600.0)
"""


@flow(name=FLOW)
def probe(integration: str, database_url: str, grace: float = GRACE_SECONDS) -> list[str]:
    """The next run, in this process: the lock, then the sweep."""
    store = open_store(database_url)
    try:
        with store.locks.hold(integration, "probe"):
            return [str(run_id) for run_id in sweep_abandoned_runs(integration, grace)]
    finally:
        store.close()


@pytest.fixture()
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hub.db'}"


def _state(run_id: UUID | str) -> tuple[str, str]:
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(str(run_id)))
    assert run.state is not None
    return run.state.type.value, run.state.message or ""


def test_a_run_killed_with_kill_9_is_marked_crashed_by_the_next_run(database_url: str) -> None:
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    killed = subprocess.Popen(
        [sys.executable, "-c", _WORKER, "shop", database_url], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert killed.stdout is not None and killed.stdout.readline() == "working\n"
    finally:
        killed.kill()  # SIGKILL: nothing of it reports the run's end
        killed.wait()
    with get_client(sync_client=True) as client:
        left = [run for run in client.read_flow_runs() if run.infrastructure_pid == process_mark(killed.pid)]
    assert len(left) == 1 and left[0].state is not None and left[0].state.type.value == "RUNNING", left

    marked = probe("shop", database_url)

    assert marked == [str(left[0].id)]
    state, message = _state(left[0].id)
    assert state == "CRASHED" and f"its process ({process_mark(killed.pid)}) is gone" in message, message
    assert "marked Crashed by run " in message
    assert probe("shop", database_url) == []  # once


@pytest.fixture()
def live_process() -> Iterator[int]:
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        yield alive.pid
    finally:
        alive.kill()
        alive.wait()


def _running(integration: str, mark: str | None) -> UUID:
    """A run of the probe flow shown Running from now on, noted as ``mark``'s."""
    with get_client(sync_client=True) as client:
        run = client.create_flow_run(probe, parameters={"integration": integration, "database_url": "x"})
        client.set_flow_run_state(run.id, Running(), force=True)  # the server stamps it: now
        if mark:
            client.update_flow_run(run.id, infrastructure_pid=mark)
    return run.id


def test_only_runs_whose_process_is_shown_gone_are_marked(database_url: str, live_process: int) -> None:
    grace = 3.0  # the lock's evidence counts for runs shown Running longer (GRACE_SECONDS in use)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    runs: dict[str, Any] = {
        # here, its process alive: never, however old (it may still report its end)
        "alive here": _running("shop", process_mark(live_process)),
        # elsewhere or unnoted, Running long after it would have had the lock, which nobody holds
        "elsewhere, old": _running("shop", "another-host:4242"),
        "unnoted, old": _running("shop", None),
        # another integration's: its own lock, not ours
        "other integration": _running("other", "another-host:4242"),
    }
    time.sleep(grace + 0.5)  # the runs above are "old" now
    # here, its process gone: dead however recent
    runs["dead here"] = _running("shop", process_mark(dead.pid))
    # elsewhere (a worker on another machine), just started: may be on its way to the lock
    runs["elsewhere, new"] = _running("shop", "another-host:4242")

    marked = set(probe("shop", database_url, grace))

    crashed = {name for name, run_id in runs.items() if _state(run_id)[0] == "CRASHED"}
    assert crashed == {"dead here", "elsewhere, old", "unnoted, old"}, {n: _state(r) for n, r in runs.items()}
    assert marked == {str(runs[name]) for name in crashed}
    assert "no process holds the run lock" in _state(runs["elsewhere, old"])[1]

    # without the lock (serve as it starts) only the process evidence counts
    again = _running("shop", process_mark(dead.pid))
    unlocked = _running("shop", "another-host:4242")
    assert crash_abandoned(FLOW, lock_held=False, by="test", grace=0.0) == [again]
    assert _state(unlocked)[0] == "RUNNING" and _state(again)[0] == "CRASHED"
    with get_client(sync_client=True) as client:  # nothing of this test left Running for the next sweep
        for run_id in (runs["alive here"], runs["elsewhere, new"], runs["other integration"], unlocked):
            client.set_flow_run_state(run_id, Cancelled(), force=True)
