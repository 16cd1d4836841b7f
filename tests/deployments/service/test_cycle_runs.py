"""An in-process cycle's Prefect run is noted while it runs, and a stop that cuts it short marks it Crashed."""

from __future__ import annotations

import threading
import time

import pytest
from prefect import flow

from deployments.service.cycle_runs import mark_crashed, run_noted, unfinished

pytestmark = pytest.mark.usefixtures("prefect_backend")

release = threading.Event()


@flow(name="held-cycle", flow_run_name="held-cycle/test")
def held_cycle(seconds: float) -> str:
    release.wait(seconds)
    return "carried"


def test_a_run_that_ends_is_no_longer_noted() -> None:
    release.set()
    assert run_noted(held_cycle, 5.0) == "carried"
    assert unfinished() == []


def test_a_cut_short_run_is_marked_crashed_saying_why() -> None:
    from prefect.client.orchestration import get_client

    release.clear()
    results: list[object] = []
    worker = threading.Thread(target=lambda: results.append(run_noted(held_cycle, 30.0)), daemon=True)
    worker.start()
    deadline = time.monotonic() + 30
    while not unfinished():
        assert worker.is_alive() and time.monotonic() < deadline, "the running cycle was never noted"
        time.sleep(0.05)
    [run_id] = marked = mark_crashed("serve stopped while this cycle waited on an answer")
    assert marked == unfinished()
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(run_id).state
    assert state is not None and state.is_crashed(), state
    assert state.message == "serve stopped while this cycle waited on an answer"
    release.set()  # what the cut-short cycle does afterwards is moot (its process is gone); it must not hang
    worker.join(30)
    assert not worker.is_alive() and unfinished() == []


def test_one_registry_names_the_running_cycles_and_holds_their_runs() -> None:
    """A trigger's worker is named among the running cycles, with its flow run while it is in one."""
    from deployments.service.cycle_runs import cycles_running, track

    release.clear()
    worker = threading.Thread(target=lambda: run_noted(held_cycle, 30.0), name="stock-sync/one-registry", daemon=True)
    track(worker)
    worker.start()
    deadline = time.monotonic() + 30
    while not unfinished():
        assert worker.is_alive() and time.monotonic() < deadline, "the running cycle was never noted"
        time.sleep(0.05)
    assert "stock-sync/one-registry" in cycles_running() and len(unfinished()) == 1
    release.set()
    worker.join(30)
    assert "stock-sync/one-registry" not in cycles_running() and unfinished() == []
