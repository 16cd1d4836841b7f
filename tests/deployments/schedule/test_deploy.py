"""``skladbridge deploy`` against a real ``prefect server start``, and a worker running what it deployed.

One Prefect server (its own ``PREFECT_HOME`` in a temporary directory) and the demo's sandboxes for the
module. The config has two integrations on those sandboxes, ``demo`` (active) and ``outlet``
(``active: false``); everything is checked through the Prefect API: names, tags, parameters,
schedules, the concurrency limit, paused state; re-running changes nothing; resuming and removing an
integration; the generated ``prefect.yaml`` deploys the same deployments through ``prefect deploy
--all``; a process worker (started in a directory that is not the clone: entrypoints are module paths)
runs the full import and a stock sync, and a stock-sync run fired twice at once sends a change once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from deployments.cli import app
from deployments.demo.world import World, served_world
from deployments.schedule.deploy import HEADER, PREFECT_VERSION, plan, plan_template, prefect_yaml, signature
from deployments.schedule.exchanges import exchange
from hub.config import parse_config
from tests.deployments.schedule.test_readme_prefect import _free_port, _stop, _tail, prefect_server

REPO = Path(__file__).resolve().parents[3]
SECRETS = ("SKLADBRIDGE_DEMO_MS_PASSWORD", "SKLADBRIDGE_DEMO_CRM_KEY", "SKLADBRIDGE_DEMO_FEED_SECRET")

SYSTEMS = """\
    systems:
      ms: {{system: moysklad, base_url: "{ms}", login: admin@demo, password: "${{SKLADBRIDGE_DEMO_MS_PASSWORD}}"}}
      crm: {{system: retailcrm, base_url: "{crm}", api_key: "${{SKLADBRIDGE_DEMO_CRM_KEY}}", site: demo}}
"""
DEMO = """\
  demo:
{systems}    flows:
      catalog: {{from: ms, to: crm}}
      stock: {{from: ms, to: crm}}
      prices: {{from: ms, to: crm}}
    mappings:
      stores: {{Основной склад: msk, Склад 2: msk, Склад 3: spb, Склад 4: null}}
      price_types: {{Цена продажи: base, Оптовая цена: wholesale}}
    options:
      feed: {{dir: feeds, path_secret: "${{SKLADBRIDGE_DEMO_FEED_SECRET}}"}}
    periods: {{stock_sync: {stock_sync}, stock_reconcile: "0 3 * * *", timezone: Europe/Moscow}}
"""
OUTLET = """\
  outlet:
    active: {active}
{systems}    flows:
      stock: {{from: ms, to: crm}}
"""


@dataclass
class Deployed:
    api: str
    world: World
    workdir: Path

    def config(self, outlet: str | None = "false", stock_sync: str = "5m") -> Path:
        """The two-integration config (``outlet``: its ``active`` value, or None to leave it out;
        ``stock_sync``: the demo's stock-sync period)."""
        env = self.world.env
        systems = SYSTEMS.format(ms=env["SKLADBRIDGE_DEMO_MS_URL"], crm=env["SKLADBRIDGE_DEMO_CRM_URL"])
        text = f"database_url: {env['SKLADBRIDGE_DEMO_DATABASE_URL']}\nintegrations:\n"
        text += DEMO.format(systems=systems, stock_sync=stock_sync)
        if outlet is not None:
            text += OUTLET.format(systems=systems, active=outlet)
        path = self.workdir / "skladbridge.yaml"
        path.write_text(text, encoding="utf-8")
        return path


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    tmp = tmp_path_factory.mktemp("deploy")
    with (
        prefect_server(tmp / "prefect-home", tmp / "server.log") as api,
        served_world(tmp / "world", products=30) as world,
        temporary_settings({PREFECT_API_URL: api}),
    ):
        yield Deployed(api, world, tmp)


def deploy(*args: str) -> str:
    result = CliRunner().invoke(app, ["deploy", *args])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.output


def actions(output: str) -> dict[str, str]:
    """deployment -> action, from deploy's table."""
    rows: dict[str, str] = {}
    for line in output.splitlines():
        parts = line.split()
        if parts and parts[0].rstrip(",") in ("created", "updated", "unchanged", "paused", "resumed", "removed"):
            name = next(p for p in parts if "/" in p or p == "skladbridge")
            rows[name] = " ".join(parts[: parts.index(name) - (2 if name == "skladbridge" else 0)])
    return rows


def ours() -> dict[str, Any]:
    """Every skladbridge deployment on the server by ``flow/deployment`` name."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterTags

    with get_client(sync_client=True) as client:
        tagged = DeploymentFilter(tags=DeploymentFilterTags(all_=["skladbridge"]))
        found = client.read_deployments(deployment_filter=tagged)
        return {f"{client.read_flow(d.flow_id).name}/{d.name}": d for d in found}


NAMES = {
    "full-import/demo",
    "catalog-feed/demo",
    "stock-sync/demo",
    "stock-reconcile/demo",
    "stock-sync/outlet",
    "stock-reconcile/outlet",
    "healthcheck/healthcheck",
}


def test_deploy_registers_every_exchange_with_its_schedule_and_pauses_the_inactive(deployed: Deployed) -> None:
    from prefect.client.orchestration import get_client

    config = deployed.config(outlet="false")
    started = time.monotonic()
    output = deploy("--config", str(config))
    first = time.monotonic() - started
    assert actions(output) == {
        "skladbridge": "created",
        **{n: "created" for n in NAMES},
        "stock-sync/outlet": "created, paused",
        "stock-reconcile/outlet": "created, paused",
    }
    assert "8 created" in output and "SKLADBRIDGE_DEMO" not in output

    with get_client(sync_client=True) as client:
        pool = client.read_work_pool("skladbridge")
        assert pool.type == "process"
    found = ours()
    assert set(found) == NAMES  # outlet has no catalog edge: no full import for it
    for name, d in found.items():
        kind, integration = name.split("/")
        assert d.work_pool_name == "skladbridge"
        assert d.global_concurrency_limit is not None and d.global_concurrency_limit.limit == 1
        assert d.concurrency_options is not None and d.concurrency_options.collision_strategy == "CANCEL_NEW"
        if kind == "healthcheck":
            assert d.tags == ["skladbridge", "healthcheck"] and d.parameters == {"config_path": str(config)}
            continue
        assert d.tags == ["skladbridge", kind, f"integration:{integration}"]
        assert d.parameters["integration"] == integration and d.parameters["config_path"] == str(config)
        assert (
            d.entrypoint
            == {
                "full-import": "flows.full_import.full_import",
                "catalog-feed": "flows.catalog_feed.catalog_feed",
                "stock-sync": "flows.stock_sync.stock_sync",
                "stock-reconcile": "flows.stock_reconcile.stock_reconcile",
            }[kind]
        )
        assert d.paused is (integration == "outlet")
        assert all(s.active is (integration == "demo") for s in d.schedules)
    assert found["stock-reconcile/demo"].parameters == {
        "integration": "demo",
        "config_path": str(config),
        "full": True,
        "trigger": "reconcile",
    }

    def schedule(name: str) -> dict[str, Any]:
        (only,) = found[name].schedules
        return only.schedule.model_dump(mode="json", exclude_none=True)

    assert not found["full-import/demo"].schedules  # on demand
    assert schedule("catalog-feed/demo")["interval"] == 3 * 3600  # the seed's three-hourly feed
    assert schedule("stock-sync/demo")["interval"] == 300 and schedule("stock-sync/demo")["timezone"] == "Europe/Moscow"
    assert schedule("stock-reconcile/demo") | {"day_or": True} == {
        "cron": "0 3 * * *",
        "timezone": "Europe/Moscow",
        "day_or": True,
    }
    assert schedule("stock-sync/outlet")["interval"] == 600 and schedule("stock-reconcile/outlet")["interval"] == 86_400

    # idempotent: the same config again changes nothing, ids and all
    again = deploy("--config", str(config))
    assert set(actions(again).values()) == {"unchanged"} and "8 unchanged" in again
    after = ours()
    assert {n: d.id for n, d in after.items()} == {n: d.id for n, d in found.items()}
    assert {n: signature(d) for n, d in after.items()} == {n: signature(d) for n, d in found.items()}
    print(f"first deploy {first:.1f} s")


def test_an_integration_set_active_resumes_and_one_that_left_is_removed(deployed: Deployed) -> None:
    config = deployed.config(outlet="true")
    output = deploy("--config", str(config))
    assert actions(output)["stock-sync/outlet"] == "resumed" and actions(output)["stock-reconcile/outlet"] == "resumed"
    found = ours()
    for name in ("stock-sync/outlet", "stock-reconcile/outlet"):
        assert not found[name].paused and [s.active for s in found[name].schedules] == [True]

    # a period set to manual loses its schedule (Prefect keeps schedules when told "none")
    config.write_text(
        config.read_text(encoding="utf-8").replace('stock_reconcile: "0 3 * * *"', "stock_reconcile: manual"),
        encoding="utf-8",
    )
    assert actions(deploy("--config", str(config)))["stock-reconcile/demo"] == "updated"
    assert ours()["stock-reconcile/demo"].schedules == []

    config = deployed.config(outlet=None)
    output = deploy("--config", str(config))
    assert actions(output)["stock-sync/outlet"] == "removed" and actions(output)["stock-reconcile/outlet"] == "removed"
    assert set(ours()) == NAMES - {"stock-sync/outlet", "stock-reconcile/outlet"}
    assert ours()["stock-reconcile/demo"].schedules  # back to the config's cron


def wait_final(flow_run_id: Any, worker: subprocess.Popen[bytes], worker_log: Path, timeout: float = 180) -> Any:
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            run = client.read_flow_run(flow_run_id)
            if run.state is not None and run.state.is_final():
                return run
            assert worker.poll() is None, f"the worker exited:\n{_tail(worker_log)}"
            assert time.monotonic() < deadline, f"run {run.name} still {run.state}:\n{_tail(worker_log)}"
            time.sleep(0.5)


def inventory_uploads(world: World) -> int:
    return sum(1 for request in world.retailcrm.log if request.path.endswith("/store/inventories/upload"))


def table_rows(data: Any) -> list[dict[str, Any]]:
    rows = json.loads(data) if isinstance(data, str) else data
    assert isinstance(rows, list)
    return rows


def test_a_worker_runs_the_deployments_and_a_run_fired_twice_sends_once(deployed: Deployed) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    from tests.e2e.test_stock_sync import change_stock

    # No stock or feed schedules here: a scheduled run falling due while the worker runs would hold the
    # deployment's one slot (both our runs cancelled: CI saw it) or the stock run lock. Updating the
    # schedules also makes Prefect delete the runs it had scheduled, late ones included.
    config = deployed.config(outlet=None, stock_sync="manual")
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            'stock_reconcile: "0 3 * * *"', "stock_reconcile: manual, catalog_feed: manual"
        ),
        encoding="utf-8",
    )
    deploy("--config", str(config))
    unscheduled = ("stock-sync/demo", "stock-reconcile/demo", "catalog-feed/demo")
    assert [ours()[n].schedules for n in unscheduled] == [[], [], []]
    world = deployed.world
    elsewhere = deployed.workdir / "worker-cwd"  # not the clone: the entrypoints are importable module paths
    elsewhere.mkdir()
    env = {
        **os.environ,
        **{k: world.env[k] for k in SECRETS},
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PREFECT_API_URL": deployed.api,
        "PREFECT_HOME": str(deployed.workdir / "worker-home"),
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    env.pop("SKLADBRIDGE_CONFIG", None)
    log = deployed.workdir / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [str(Path(sys.executable).parent / "prefect"), "worker", "start", "--pool", "skladbridge"],
            cwd=elsewhere,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        with get_client(sync_client=True) as client:
            found = ours()
            started = time.monotonic()
            imported = client.create_flow_run_from_deployment(found["full-import/demo"].id)
            run = wait_final(imported.id, worker, log)
            assert run.state.is_completed(), f"{run.state}\n{_tail(log)}"
            assert run.name == "full-import/demo"
            print(f"full import through the worker: {time.monotonic() - started:.1f} s")

            offer = next(
                pid
                for pid, p in world.moysklad.store.of_type("product").items()
                if not p.get("archived") and not p.get("variantsCount")
            )
            change_stock(world.moysklad, offer, "Основной склад", +5)
            uploads_before = inventory_uploads(world)
            # the same scheduled run fired twice (prefect#18894): two runs of one deployment at once
            started = time.monotonic()
            twice = [client.create_flow_run_from_deployment(found["stock-sync/demo"].id) for _ in range(2)]
            runs = [wait_final(r.id, worker, log) for r in twice]
            print(
                f"two stock syncs through the worker: {time.monotonic() - started:.1f} s, "
                f"{[r.state.type.value for r in runs]}"
            )
            completed = [r for r in runs if r.state.is_completed()]
            assert completed, [r.state for r in runs]
            # the other was cancelled by the deployment's limit (CANCEL_NEW), skipped by the run lock, or
            # ran after the first and found nothing new to send
            assert all(r.state.is_completed() or r.state.is_cancelled() for r in runs), [r.state for r in runs]
            assert inventory_uploads(world) - uploads_before == 1, "the change was sent more than once (or never)"

            artifacts = client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[r.id for r in completed]))
            )
            summaries = [a for a in artifacts if a.key == "stock-sync-demo"]
            assert len(summaries) == len(completed) and all(a.type == "table" for a in summaries)
            sent = [row["count"] for a in summaries for row in table_rows(a.data) if row["what"] == "offers sent"]
            assert sorted(sent) == [0, 1][2 - len(sent) :], sent  # the changed offer, once
    finally:
        _stop(worker)


def test_the_generated_prefect_yaml_deploys_what_skladbridge_deploy_does(deployed: Deployed) -> None:
    """``prefect deploy --all`` of ``--write-prefect-yaml`` yields the same deployments (only how the code
    is found differs: a path in the clone instead of a module path)."""
    config = deployed.config(outlet="false")
    deploy("--config", str(config))
    registered = {n: signature(d) for n, d in ours().items()}
    written = deployed.workdir / "prefect.generated.yaml"
    deploy("--config", str(config), "--write-prefect-yaml", str(written))
    env = {
        **os.environ,
        "PREFECT_API_URL": deployed.api,
        "PREFECT_HOME": str(deployed.workdir / "cli-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "prefect"),
            "--no-prompt",
            "deploy",
            "--all",
            "--prefect-file",
            str(written),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    by_yaml = ours()
    assert set(by_yaml) == set(registered)
    for name, d in by_yaml.items():
        assert d.entrypoint == exchange(name.split("/")[0]).entrypoint  # flows/...py:..., from the clone
        # everything but the entrypoint (signature's 4th field) is what skladbridge deploy registered
        assert signature(d)[:3] + signature(d)[4:] == registered[name][:3] + registered[name][4:], name
    deploy("--config", str(config))  # module entrypoints again


# -- no server needed ---------------------------------------------------------------------------


def test_the_committed_prefect_yaml_is_the_generated_one() -> None:
    committed = (REPO / "prefect.yaml").read_text(encoding="utf-8")
    assert committed == prefect_yaml(plan_template()), (
        "prefect.yaml differs from the registry: run `skladbridge deploy --write-prefect-yaml prefect.yaml --template`"
    )
    assert committed.startswith(HEADER) and f"prefect-version: {PREFECT_VERSION}" in committed


def test_plan_deploys_only_what_an_integration_has_flows_for() -> None:
    config = parse_config(
        {
            "integrations": {
                "a": {"systems": {}, "periods": {"full_import": "1d"}},
                "b": {"active": False, "systems": {}},
            }
        },
        source="/etc/sb.yaml",
    )
    planned = {p.full_name: p for p in plan(config, "/etc/sb.yaml")}
    assert set(planned) == {"healthcheck/healthcheck"}  # no flows: nothing per integration to run
    assert planned["healthcheck/healthcheck"].parameters == {"config_path": "/etc/sb.yaml"}
    template = {p.full_name: p for p in plan_template()}
    assert set(template) == {
        "full-import/full-import",
        "catalog-feed/catalog-feed",
        "stock-sync/stock-sync",
        "stock-reconcile/stock-reconcile",
        "order-upload/order-upload",
        "order-status-sync/order-status-sync",
        "order-documents/order-documents",
        "two-way-sync/two-way-sync",
        "archive-backfill/archive-backfill",
        "healthcheck/healthcheck",
    }
    assert template["stock-sync/stock-sync"].parameters == {}  # integration: a required run parameter
    assert not any(p.period.scheduled for p in template.values())


def test_every_exchange_of_a_full_integration_is_planned_with_the_seed_periods() -> None:
    config = parse_config(
        {
            "integrations": {
                "shop": {
                    "systems": {
                        "ms": {"system": "moysklad", "token": "${T}", "token_kind": "app"},
                        "crm": {"system": "retailcrm", "base_url": "http://127.0.0.1:9", "api_key": "${K}"},
                    },
                    "flows": {
                        "catalog": {"from": "ms", "to": "crm"},
                        "stock": {"from": "ms", "to": "crm"},
                        "orders": {"from": "crm", "to": "ms"},
                        "statuses": {"from": "ms", "to": "crm"},
                    },
                }
            }
        },
        source="/etc/sb.yaml",
        require_secrets=False,
    )
    planned = {p.full_name: p for p in plan(config, "/etc/sb.yaml")}
    assert {n: (p.period.seconds if p.period.scheduled else None) for n, p in planned.items()} == {
        "full-import/shop": None,
        "catalog-feed/shop": 3 * 3600,
        "stock-sync/shop": 600,
        "stock-reconcile/shop": 86_400,
        "order-upload/shop": 60,
        "order-status-sync/shop": 60,
        "order-documents/shop": 60,
        "two-way-sync/shop": 60,
        "archive-backfill/shop": 1800,
        "healthcheck/healthcheck": None,
    }
    assert planned["order-upload/shop"].exchange.entrypoint == "flows/order_upload.py:order_upload"
    assert planned["order-upload/shop"].parameters == {"integration": "shop", "config_path": "/etc/sb.yaml"}


def test_build_deployments_gives_serve_runner_deployments(tmp_path: Path) -> None:
    from prefect.deployments.runner import RunnerDeployment

    from deployments.schedule.deploy import build_deployments

    config = parse_config(
        {
            "integrations": {
                "shop": {
                    "systems": {
                        "ms": {"system": "moysklad", "token": "${T}", "token_kind": "app"},
                        "crm": {"system": "retailcrm", "base_url": "http://127.0.0.1:9", "api_key": "${K}"},
                    },
                    "flows": {"stock": {"from": "ms", "to": "crm"}},
                    "active": False,
                }
            }
        },
        source=tmp_path / "sb.yaml",
        require_secrets=False,
    )
    built = build_deployments(config)
    assert all(isinstance(d, RunnerDeployment) for d in built)
    by_name = {f"{d.flow_name}/{d.name}": d for d in built}
    assert set(by_name) == {"stock-sync/shop", "stock-reconcile/shop", "healthcheck/healthcheck"}
    sync = by_name["stock-sync/shop"]
    assert sync.paused and sync.entrypoint == "flows.stock_sync.stock_sync" and sync.work_pool_name is None
    assert sync.parameters == {"integration": "shop", "config_path": str((tmp_path / "sb.yaml").resolve())}
    assert [s.active for s in sync.schedules or []] == [False] and sync.concurrency_limit == 1
    assert by_name["stock-reconcile/shop"].entrypoint == "flows.stock_reconcile.stock_reconcile"
    assert build_deployments(config, worker_config="env")[0].parameters == {"integration": "shop"}


@pytest.mark.parametrize(
    ("api", "expected"),
    [
        (None, "PREFECT_API_URL is not set"),
        ("closed", "no Prefect server answers at http://127.0.0.1:"),
    ],
)
def test_deploy_without_a_prefect_server_says_so_in_one_line(tmp_path: Path, api: str | None, expected: str) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    config = tmp_path / "sb.yaml"
    config.write_text("integrations: {}\n", encoding="utf-8")
    url = f"http://127.0.0.1:{_free_port()}/api" if api else None
    with temporary_settings({PREFECT_API_URL: url}):
        result = CliRunner().invoke(app, ["deploy", "--config", str(config)])
    assert result.exit_code == 1
    assert expected in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_the_consoles_switch_pauses_or_resumes_what_the_file_says_when_deployments_are_planned(
    tmp_path: Path,
) -> None:
    from deployments.schedule.deploy import as_switched
    from hub.store import open_store

    raw = {
        "database_url": f"sqlite:///{tmp_path / 'hub.db'}",
        "integrations": {
            name: {
                "active": active,
                "systems": {
                    "ms": {"system": "moysklad", "token": "${T}"},
                    "crm": {"system": "yml", "base_url": "https://shop.example.com"},
                },
                "flows": {"stock": {"from": "ms", "to": "crm"}},
            }
            for name, active in (("on_in_file", True), ("off_in_file", False))
        },
    }
    config = parse_config(raw, source=tmp_path / "sb.yaml", require_secrets=False)

    def paused() -> dict[str, bool]:
        return {p.full_name: p.paused for p in plan(as_switched(config), None) if p.exchange.name == "stock-sync"}

    assert paused() == {"stock-sync/on_in_file": False, "stock-sync/off_in_file": True}  # the file alone
    store = open_store(config.effective_database_url())
    try:
        store.switches.set("on_in_file", False, by="anna")
        store.switches.set("off_in_file", True, by="anna")
    finally:
        store.close()
    # what serve at its next start and deploy at its next run register: the console's switch
    assert paused() == {"stock-sync/on_in_file": True, "stock-sync/off_in_file": False}
