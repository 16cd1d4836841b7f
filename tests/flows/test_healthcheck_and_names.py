"""What the Prefect UI shows a merchant: runs named by exchange and integration, upload tasks by what
they carry, and a healthcheck that calls every system and fails naming the one that did not answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from deployments.demo import DemoWorld, demo_world

pytestmark = pytest.mark.usefixtures("prefect_backend")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[DemoWorld]:
    with demo_world(tmp_path / "demo", 40) as running:
        yield running


def test_runs_are_named_by_exchange_and_integration_and_uploads_by_what_they_carry(world: DemoWorld) -> None:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.flows import Flow

    from flows.full_import import full_import

    assert isinstance(full_import, Flow)
    state = full_import("demo", config_path=str(world.config_path), return_state=True)
    flow_run_id = state.state_details.flow_run_id
    assert flow_run_id is not None  # a flow's own final state names its run
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(flow_run_id)
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    assert flow_run.name == "full-import/demo"
    assert {t.name for t in tasks if t.name.startswith("upload")} == {"upload-stock", "upload-prices"}


def test_healthcheck_calls_every_system_and_names_the_one_that_failed(
    world: DemoWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.healthcheck import HealthcheckFailed, healthcheck

    report = healthcheck(str(world.config_path))
    assert report["system demo.ms (moysklad)"].startswith("ok")
    assert report["system demo.crm (retailcrm)"] == "ok: signed in; sites ['demo']"

    monkeypatch.setenv("SKLADBRIDGE_DEMO_MS_PASSWORD", "wrong-password")
    with pytest.raises(HealthcheckFailed) as info:
        healthcheck(str(world.config_path))
    message = str(info.value)
    assert "demo.ms (moysklad)" in message and "demo.crm" not in message
    assert "wrong-password" not in message
