"""The README's "many shops" layout, run: Prefect on PostgreSQL, the hub on PostgreSQL, two workers.

A ``prefect server start`` whose database is a fresh PostgreSQL database, ``skladbridge deploy`` of the
demo config with the hub store in another fresh PostgreSQL database, and two process workers on the
``skladbridge`` pool, one run at a time each (``--limit 1``) and sharing budgets through Redis. A
healthcheck asked for while one worker runs the import goes to the other; both complete; the flow
runs are rows in Prefect's PostgreSQL database and the import's work is in the hub's.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
import yaml

from deployments.demo.world import served_world
from hub.config import load_config
from tasks.hub_tasks import open_hub_store
from tasks.publish import INVENTORIES
from tests.deployments.schedule.test_deploy import ours, wait_final
from tests.deployments.schedule.test_readme_prefect import _stop, _tail, prefect_server
from tests.hub.conftest import POSTGRES_ENV, _libpq

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PERIODS = (
    "order_upload",
    "order_status_sync",
    "order_documents",
    "two_way_sync",
    "stock_sync",
    "stock_reconcile",
    "archive_backfill",
    "catalog_feed",
)


def _taker(
    client: Any, run_id: UUID, workers: dict[str, tuple[subprocess.Popen[bytes], Path]], timeout: float = 120
) -> str:
    """The worker that took the run: Prefect labels a run with its worker's name once it holds it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        name = client.read_flow_run(run_id).labels.get("prefect.worker.name")
        if name:
            return str(name)
        for worker, (proc, log) in workers.items():
            assert proc.poll() is None, f"{worker} ended: {_tail(log, 4000)}"
        time.sleep(0.2)
    raise AssertionError(f"no worker took run {run_id} in {timeout} s")


def _server_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        reason = f"the many-shops test needs {POSTGRES_ENV}=postgresql://user@host:port/db"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must not skip it")
        pytest.skip(reason)
    return url


@pytest.fixture()
def databases() -> Iterator[tuple[str, str]]:
    """Two fresh databases on the test server, (Prefect's, the hub's) as libpq URLs; dropped after."""
    url = _server_url()
    names = [f"sb_{role}_{secrets.token_hex(4)}" for role in ("prefect", "hub")]
    with psycopg.connect(_libpq(url), autocommit=True) as admin:
        for name in names:
            admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _libpq(url, names[0]), _libpq(url, names[1])
    finally:
        with psycopg.connect(_libpq(url), autocommit=True) as admin:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_two_workers_on_a_postgres_prefect_and_a_postgres_hub_each_take_a_run(
    databases: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    prefect_db, hub_db = databases
    asyncpg_url = prefect_db.replace("postgresql://", "postgresql+asyncpg://", 1)
    with (
        prefect_server(
            tmp_path / "prefect-home", tmp_path / "server.log", {"PREFECT_SERVER_DATABASE_CONNECTION_URL": asyncpg_url}
        ) as api,
        served_world(tmp_path / "world", products=30) as world,
        temporary_settings({PREFECT_API_URL: api}),
    ):
        # every exchange on demand: a schedule falling due would take a worker's one slot
        config_path = world.config_path
        assert config_path is not None
        config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
        config["integrations"]["demo"]["periods"] = dict.fromkeys(PERIODS, "manual")
        config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        env = {
            **os.environ,
            **world.env,
            "SKLADBRIDGE_DEMO_DATABASE_URL": hub_db,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PREFECT_API_URL": api,
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
        }
        env.pop("SKLADBRIDGE_CONFIG", None)
        if os.environ.get("SKLADBRIDGE_TEST_REDIS_URL"):
            env["SKLADBRIDGE_REDIS_URL"] = os.environ["SKLADBRIDGE_TEST_REDIS_URL"]
        deployed = subprocess.run(
            [str(Path(sys.executable).parent / "skladbridge"), "deploy", "--config", str(config_path)],
            env={**env, "PREFECT_HOME": str(tmp_path / "cli-home")},
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        workers: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
        try:
            for name in ("shop-worker-1", "shop-worker-2"):
                log = tmp_path / f"{name}.log"
                with log.open("wb") as out:
                    workers[name] = (
                        subprocess.Popen(
                            [
                                str(Path(sys.executable).parent / "prefect"),
                                "worker",
                                "start",
                                "--pool",
                                "skladbridge",
                                "--name",
                                name,
                                "--limit",
                                "1",
                            ],
                            cwd=tmp_path,
                            env={**env, "PREFECT_HOME": str(tmp_path / f"{name}-home")},
                            stdout=out,
                            stderr=subprocess.STDOUT,
                            start_new_session=True,
                        ),
                        log,
                    )
            found = ours()
            with get_client(sync_client=True) as client:
                # the import is held in its CRM calls while the healthcheck is asked for, so the
                # healthcheck can only go to the other worker (--limit 1): a worker that lost the race
                # for a run names it in its log too, so the taker is read from the run's labels
                world.retailcrm.faults.slow_seconds = 8.0
                importing = client.create_flow_run_from_deployment(found["full-import/demo"].id)
                first = _taker(client, importing.id, workers)
                checking = client.create_flow_run_from_deployment(found["healthcheck/healthcheck"].id)
                second = _taker(client, checking.id, workers)
                world.retailcrm.faults.slow_seconds = 0.0
                proc, log = workers[first]
                runs = [wait_final(run.id, proc, log, timeout=240) for run in (importing, checking)]
            logs = {name: _tail(log, 200_000) for name, (_, log) in workers.items()}
            assert all(run.state is not None and run.state.is_completed() for run in runs), (
                [run.state for run in runs],
                logs,
            )
            # one run each: a worker with --limit 1 takes no second run while it runs one
            print(f"runs taken by: {first}, {second}")
            assert sorted([first, second]) == ["shop-worker-1", "shop-worker-2"], (first, second, logs)
        finally:
            for proc, _ in workers.values():
                _stop(proc)

    # Prefect kept its runs in PostgreSQL; the hub kept the import's work in its own PostgreSQL
    with psycopg.connect(prefect_db) as conn:
        row = conn.execute("SELECT count(*) FROM flow_run WHERE id = ANY(%s)", ([run.id for run in runs],)).fetchone()
        assert row is not None and row[0] == 2
    monkeypatch.setenv("SKLADBRIDGE_DEMO_DATABASE_URL", hub_db)
    for key, value in world.env.items():
        if key != "SKLADBRIDGE_DEMO_DATABASE_URL":
            monkeypatch.setenv(key, value)
    store = open_hub_store(load_config(config_path))
    try:
        sent = store.queue.list(integration="demo", kind=INVENTORIES)
        assert sent and all(item.status == "done" for item in sent), sent
    finally:
        store.close()
