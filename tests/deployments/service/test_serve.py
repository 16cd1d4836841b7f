"""``skladbridge serve`` with the demo config, as a small shop runs it: one process, its own Prefect
server (UI and scheduler), every deployment listed with its schedule, a MoySklad webhook to its port
carrying a shipment to the CRM, and SIGTERM ending it with nothing of it left running."""

from __future__ import annotations

import asyncio
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from connectors.moysklad.client import MoySkladClient
from connectors.retailcrm.sandbox.orders import create_order
from connectors.sandboxing import free_port
from deployments.cli import app as cli
from deployments.demo import MS_LOGIN, DemoWorld, demo_world
from hub.config import load_config
from hub.store.queue_item import QueueStatus
from tasks.hub_tasks import open_hub_store
from tasks.publish import INVENTORIES
from tests.deployments.demo.test_sandbox_world import _descendants, _refused
from tests.e2e.test_full_import import crm_inventory, expected_inventory, run_import
from tests.e2e.test_stock_webhooks import ship, stocked_product, wait_for
from tests.run_results import summary_of

pytestmark = pytest.mark.usefixtures("prefect_backend")

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture()
def world(tmp_path: Path) -> Iterator[DemoWorld]:
    with demo_world(tmp_path / "demo", 30) as running:
        config = yaml.safe_load(running.config_path.read_text(encoding="utf-8"))
        demo = config["integrations"]["demo"]
        demo["flows"].update({"orders": {"from": "crm", "to": "ms"}, "statuses": {"from": "ms", "to": "crm"}})
        demo["mappings"].update(
            {"statuses": {"new": "Новый", "assembling": "Подтвержден"}, "order_stores": {"msk": "Основной склад"}}
        )
        demo["options"]["orders"] = {"poll_seconds": 1}
        # statuses come back by the webhook only here: a scheduled sync would race it to the CRM; nor
        # may a scheduled feed refresh (a full import, on the hour every 3 hours) take the stock lock
        demo["periods"] = {"order_status_sync": "manual", "catalog_feed": "manual"}
        running.config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        run_import(running)  # the catalog is in the CRM: stock changes and orders have somewhere to go
        yield running


async def set_state(order_id: str, state_id: str) -> None:
    async with MoySkladClient(
        os.environ["SKLADBRIDGE_DEMO_MS_URL"], login=MS_LOGIN, password=os.environ["SKLADBRIDGE_DEMO_MS_PASSWORD"]
    ) as client:
        await client.update_order_state(order_id, state_id)


class Output(threading.Thread):
    """The served process's lines, read as they come."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        super().__init__(daemon=True)
        self.proc, self.lines, self.seen = proc, queue.Queue[str](), list[str]()
        self.start()

    def run(self) -> None:
        self.timed: list[tuple[float, str]] = []  # when each line came (the stop's figures)
        for line in self.proc.stdout or ():
            self.lines.put(line.rstrip("\n"))
            self.timed.append((time.monotonic(), line.rstrip("\n")))

    def until(self, prefix: str, seconds: float) -> str:
        deadline = time.monotonic() + seconds
        while not any(line.startswith(prefix) for line in self.seen):
            if self.proc.poll() is not None:
                time.sleep(0.5)
                raise AssertionError("\n".join([*self.seen, *list(self.lines.queue)]))
            assert time.monotonic() < deadline, "\n".join(self.seen)
            try:
                self.seen.append(self.lines.get(timeout=0.5))
            except queue.Empty:
                pass
        return "\n".join(self.seen)


def _serve(
    world: DemoWorld, home: Path, port: int, prefect_port: int, *, quick_runner: bool = True
) -> tuple[subprocess.Popen[str], Output]:
    """``skladbridge serve`` of the world's config in a session of its own, with its own Prefect server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env["PREFECT_HOME"] = str(home)
    if quick_runner:
        env["PREFECT_RUNNER_POLL_FREQUENCY"] = "1"  # a run asked for from the UI starts within a second
    proc = subprocess.Popen(
        [
            sys.executable,
            "-u",
            "-m",
            "deployments.cli",
            "serve",
            "-c",
            str(world.config_path),
            "--port",
            str(port),
            "--prefect-port",
            str(prefect_port),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    return proc, Output(proc)


def test_serve_lists_its_deployments_carries_a_webhook_and_stops_on_sigterm(world: DemoWorld, tmp_path: Path) -> None:
    port, prefect_port = free_port(), free_port()
    # its own Prefect server, started by serve itself
    proc, out = _serve(world, tmp_path / "prefect-home", port, prefect_port, quick_runner=False)
    try:
        text = out.until("serving; Ctrl-C or SIGTERM stops it", 180)
        api = f"http://127.0.0.1:{prefect_port}/api"
        assert f"Prefect API: {api}" in text
        assert "stock-sync/demo: every 10m" in text and "full-import/demo: on demand" in text
        assert f"webhooks: http://127.0.0.1:{port}/hooks/moysklad/demo/<token>" in text
        assert f"feed: http://127.0.0.1:{port}/feeds/demo/<path_secret>.xml" in text
        assert os.environ["SKLADBRIDGE_DEMO_WEBHOOK_SECRET"] not in text

        # the Prefect API lists what it serves, with the schedules, runnable from the UI
        listed = httpx.post(f"{api}/deployments/filter", json={}, timeout=30).json()
        flows = {f["id"]: f["name"] for f in httpx.post(f"{api}/flows/filter", json={}, timeout=30).json()}
        names = {f"{flows[d['flow_id']]}/{d['name']}": d for d in listed}
        served = {"full-import/demo", "catalog-feed/demo", "stock-sync/demo", "stock-reconcile/demo"}
        assert served <= set(names), sorted(names)
        stock = names["stock-sync/demo"]
        assert [s["schedule"]["interval"] for s in stock["schedules"]] == [600.0] and not stock["paused"]
        assert httpx.get(f"http://127.0.0.1:{prefect_port}/", timeout=30).status_code == 200  # the UI

        # the feed is served on the same port as the receiver
        secret = os.environ["SKLADBRIDGE_DEMO_FEED_SECRET"]
        feed = httpx.get(f"http://127.0.0.1:{port}/feeds/demo/{secret}.xml", timeout=30)
        assert feed.status_code == 200 and b"<yml_catalog" in feed.content

        # a MoySklad webhook to its port: the shipment reaches the CRM in seconds
        registered = CliRunner().invoke(
            cli,
            [
                "webhooks",
                "register",
                "-c",
                str(world.config_path),
                "--integration",
                "demo",
                "--public-url",
                f"http://127.0.0.1:{port}",
            ],
        )
        assert registered.exit_code == 0, registered.output
        offer = stocked_product(world)
        expected = expected_inventory(world)[offer]["msk"]
        ship(world, offer, 2)
        assert wait_for(lambda: crm_inventory(world)[offer]["msk"] == expected - 2, 60), crm_inventory(world)[offer]
        assert any(d.status == 204 for d in world.moysklad.webhooks.deliveries)

        # an order placed in the CRM reaches MoySklad through the poll of this process, in seconds
        out.until("orders: the channel of demo", 1)
        assert wait_for(
            lambda: any(
                "order-upload/demo' - Finished in state Completed" in line
                for line in [*out.seen, *list(out.lines.queue)]
            ),
            60,
        )  # the cursor is set
        item = next(o for o in world.retailcrm.offers.values() if o.get("xmlId"))
        placed = create_order(
            world.retailcrm.state,
            {
                "status": "new",
                "firstName": "Ада",
                "phone": "+79990001122",
                "items": [{"offer": {"id": item["id"]}, "quantity": 1}],
            },
            "demo",
            None,
        )
        started = time.monotonic()
        assert wait_for(
            lambda: any(
                o.get("externalCode") == str(placed["id"])
                for o in world.moysklad.store.of_type("customerorder").values()
            ),
            60,
        )
        print(f"order poll: {time.monotonic() - started:.1f} s from the CRM to MoySklad")

        # a manager moves the order on in MoySklad (its API): its webhook brings the status back to the CRM
        erp = next(
            o
            for o in world.moysklad.store.of_type("customerorder").values()
            if o.get("externalCode") == str(placed["id"])
        )
        confirmed = next(s for s in world.moysklad.store.states if s["name"] == "Подтвержден")
        started = time.monotonic()
        asyncio.run(set_state(erp["id"], confirmed["id"]))
        assert wait_for(lambda: world.retailcrm.orders[placed["id"]]["status"] == "assembling", 30), (
            world.retailcrm.orders[placed["id"]]["status"]
        )
        print(f"status webhook: {time.monotonic() - started:.1f} s from MoySklad to the CRM")
        store = open_hub_store(load_config(world.config_path))
        try:
            assert wait_for(
                lambda: any(  # written once the CRM has the status
                    e.event == "order-status-sync.done" and (e.data or {}).get("trigger") == "webhook"
                    for e in store.journal.list(integration="demo", level="info", limit=200)
                ),
                30,
            )
        finally:
            store.close()

        below = _descendants(proc.pid)
        assert below, "serve started no Prefect server of its own"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, out.until("stopped", 1)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    out.join(5)
    assert "stopped" in [*out.seen, *list(out.lines.queue)]
    assert not [pid for pid in below if Path(f"/proc/{pid}").exists()], "left running after SIGTERM"
    assert _refused(f"http://127.0.0.1:{port}/feeds/demo.xml") and _refused(
        f"http://127.0.0.1:{prefect_port}/api/health"
    )


def _manual_everywhere(world: DemoWorld) -> None:
    """No schedule fires in this test: only the webhook's cycle may hold the stock lock."""
    config = yaml.safe_load(world.config_path.read_text(encoding="utf-8"))
    config["integrations"]["demo"]["periods"] = {
        name: "manual"
        for name in (
            "order_upload",
            "order_status_sync",
            "order_documents",
            "two_way_sync",
            "stock_sync",
            "stock_reconcile",
            "archive_backfill",
            "catalog_feed",
        )
    }
    world.config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")


def test_serve_stopped_by_ctrl_c_mid_batch_leaves_the_batch_claimable(world: DemoWorld, tmp_path: Path) -> None:
    """Ctrl-C (SIGINT) while a stock batch is on its way to the CRM: serve ends at once and cleanly, the
    batch's queue item is left unfinished, never done nor dead, and the next cycle takes it back and
    carries the change, with nothing lost and nothing queued twice."""
    _manual_everywhere(world)
    port, prefect_port = free_port(), free_port()
    # its own Prefect server, started by serve itself
    proc, out = _serve(world, tmp_path / "prefect-home", port, prefect_port, quick_runner=False)
    store = open_hub_store(load_config(world.config_path))
    try:
        out.until("serving; Ctrl-C or SIGTERM stops it", 180)
        registered = CliRunner().invoke(
            cli,
            [
                "webhooks",
                "register",
                "-c",
                str(world.config_path),
                "--integration",
                "demo",
                "--public-url",
                f"http://127.0.0.1:{port}",
            ],
        )
        assert registered.exit_code == 0, registered.output
        offer = stocked_product(world)
        expected = expected_inventory(world)[offer]["msk"]
        imported = {item.id for item in store.queue.list(integration="demo", kind=INVENTORIES)}
        world.retailcrm.faults.slow_seconds = 20.0  # the batch is still on its way when Ctrl-C comes
        ship(world, offer, 2)
        sending = QueueStatus.IN_PROGRESS
        assert wait_for(lambda: bool(store.queue.list(integration="demo", kind=INVENTORIES, status=sending)), 60), (
            store.queue.list(integration="demo", kind=INVENTORIES)
        )
        time.sleep(1.0)  # the claimed batch's POST is at the CRM now
        below = _descendants(proc.pid)
        stopping = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal signals the whole process group
        assert proc.wait(timeout=60) == 0, out.until("stopped", 1)
        print(f"stopped {time.monotonic() - stopping:.1f} s after Ctrl-C, mid-batch")
        assert time.monotonic() - stopping < 20.0, "serve waited for the slowed batch instead of stopping"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        world.retailcrm.faults.slow_seconds = 0.0
    out.join(5)
    try:
        said = [*out.seen, *list(out.lines.queue)]
        assert "stopped" in said
        # the order poll's cycle may be waiting on the slowed CRM too
        assert [line for line in said if line.startswith("cut short:") and "stock-sync/demo" in line], said
        assert not [line for line in said if line.startswith("could not mark")], said
        # its Prefect run says what happened instead of showing Running for ever (the server's own database)
        with sqlite3.connect(tmp_path / "prefect-home" / "prefect.db") as prefect_db:
            runs = prefect_db.execute(
                "SELECT flow_run.name, flow_run.state_type, flow_run_state.message FROM flow_run "
                "JOIN flow_run_state ON flow_run_state.id = flow_run.state_id"
            ).fetchall()
        cut = [run for run in runs if run[0].startswith("stock-sync/demo")]
        assert cut and all(
            state == "CRASHED" and "skladbridge serve stopped" in (message or "") for _, state, message in cut
        ), runs
        assert not [pid for pid in below if Path(f"/proc/{pid}").exists()], "left running after Ctrl-C"
        # unfinished, not lost: neither done (no answer came) nor counted as a failure
        left = [item for item in store.queue.list(integration="demo", kind=INVENTORIES) if item.id not in imported]
        assert left and all(item.status in ("in_progress", "pending") for item in left), left
        assert all(item.attempts == 0 for item in left), left
        assert store.notices.pending("demo"), "the webhook's notice was marked carried by a cycle that never ended"

        from flows.stock_sync import stock_sync

        summary = summary_of(stock_sync(integration="demo", config_path=str(world.config_path), trigger="cli"))
        assert summary["released_claims"] == len([i for i in left if i.status == "in_progress"]) >= 1, summary
        assert crm_inventory(world)[offer]["msk"] == expected - 2
        after = store.queue.list(integration="demo", kind=INVENTORIES)
        assert {item.id for item in after} >= {item.id for item in left}
        assert all(item.status == "done" for item in after), after
    finally:
        store.close()


def _said(out: Output) -> list[str]:
    return [*out.seen, *list(out.lines.queue)]


def _stop(proc: subprocess.Popen[str], out: Output, sig: int = signal.SIGTERM) -> float:
    """Signal serve; the seconds until its process ended (it must end, and cleanly)."""
    started = time.monotonic()
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)  # Ctrl-C in a terminal signals the whole process group
    else:
        proc.send_signal(sig)
    code = proc.wait(timeout=60)
    seconds = time.monotonic() - started
    out.join(5)
    for when, line in out.timed:  # where the stop's time went
        if when >= started:
            print(f"  +{when - started:4.1f} s  {line[:150]}")
    assert code == 0, _said(out)
    return seconds


def _prefect_db(home: Path, query: str) -> list[tuple[object, ...]]:
    """What the Prefect server of serve recorded (it stops with serve: its own database)."""
    with sqlite3.connect(home / "prefect.db") as db:
        return db.execute(query).fetchall()


def _deployments(home: Path) -> dict[str, tuple[bool, bool, str]]:
    """full name -> (paused, on a work pool, last updated)."""
    rows = _prefect_db(
        home,
        "SELECT flow.name, deployment.name, deployment.paused, deployment.work_queue_id, "
        "deployment.updated FROM deployment JOIN flow ON flow.id = deployment.flow_id",
    )
    return {
        f"{flow}/{name}": (bool(paused), queue is not None, str(updated)) for flow, name, paused, queue, updated in rows
    }


def _runs(home: Path, prefix: str) -> list[tuple[str, str]]:
    """(state, message) of the flow runs named ``prefix...``."""
    rows = _prefect_db(
        home,
        "SELECT flow_run.name, flow_run.state_type, flow_run_state.message FROM flow_run "
        "JOIN flow_run_state ON flow_run_state.id = flow_run.state_id",
    )
    return [(str(state), str(message or "")) for name, state, message in rows if str(name).startswith(prefix)]


def test_serve_stops_in_time_restarts_at_once_and_leaves_deploys_deployments_alone(
    world: DemoWorld, tmp_path: Path
) -> None:
    """The operator's day: serve stops within its 10 s with a deployment run in flight, starts again at
    once on the same ports (TIME-WAIT sockets left by the stop), `skladbridge deploy` puts the
    deployments on its work pool meanwhile, serve is then killed with kill -9 mid-cycle, and the next
    serve marks the run it left Running Crashed, leaves the work pool's deployments as they were and
    pauses none of them at its stop."""
    from tests.deployments.cli.test_cli_common import _time_wait_on

    _manual_everywhere(world)
    home, port, prefect_port = tmp_path / "prefect-home", free_port(), free_port()
    api = f"http://127.0.0.1:{prefect_port}/api"
    procs: list[subprocess.Popen[str]] = []
    try:
        # 1. serve's own deployments; a full import asked for from the UI, in flight when the stop comes
        proc, out = _serve(world, home, port, prefect_port)
        procs.append(proc)
        out.until("serving; Ctrl-C or SIGTERM stops it", 180)
        listed = httpx.post(f"{api}/deployments/filter", json={}, timeout=30).json()
        assert listed and not any(d["paused"] or d["work_pool_name"] for d in listed), listed
        full = next(d for d in listed if d["name"] == "demo" and "full-import" in d["tags"])
        world.retailcrm.faults.slow_seconds = 30.0
        asked: list[httpx.Response] = []  # a busy SQLite server may answer 503 at first: ask again

        def created() -> bool:
            asked.append(httpx.post(f"{api}/deployments/{full['id']}/create_flow_run", json={}, timeout=30))
            return asked[-1].status_code == 201

        assert wait_for(created, 60), [(r.status_code, r.text[:300]) for r in asked]
        run = asked[-1].json()
        assert wait_for(
            lambda: httpx.get(f"{api}/flow_runs/{run['id']}", timeout=30).json()["state_type"] == "RUNNING", 120
        ), httpx.get(f"{api}/flow_runs/{run['id']}", timeout=30).json()
        time.sleep(2.0)  # well into its work
        kept = httpx.Client(timeout=30)  # a kept-alive connection: the stop closes it, leaving TIME-WAIT
        secret = os.environ["SKLADBRIDGE_DEMO_FEED_SECRET"]
        assert kept.get(f"http://127.0.0.1:{port}/feeds/demo/{secret}.xml").status_code == 200
        seconds = _stop(proc, out)
        kept.close()
        print(f"SIGTERM with a deployment run in flight: stopped in {seconds:.1f} s")
        said = _said(out)
        assert "stopped" in said, said
        states = _runs(home, "full-import/demo")
        assert states and all(state in ("CRASHED", "CANCELLED") for state, _ in states), states
        assert all(paused and not pooled for paused, pooled, _ in _deployments(home).values())  # serve's own

        # 2. at once on the same ports, while the stop's TIME-WAIT sockets remain
        assert _time_wait_on(port) >= 1, "the stop left no TIME-WAIT socket on the port: nothing is tested"
        world.retailcrm.faults.slow_seconds = 0.0
        proc, out = _serve(world, home, port, prefect_port)
        procs.append(proc)
        out.until("serving; Ctrl-C or SIGTERM stops it", 180)
        assert not any(paused for paused, _, _ in _deployments(home).values())  # served again

        # 3. `skladbridge deploy` puts the deployments on its work pool while serve runs
        deployed = subprocess.run(
            [sys.executable, "-m", "deployments.cli", "deploy", "-c", str(world.config_path)],
            cwd=REPO,
            env={**os.environ, "PREFECT_API_URL": api, "PREFECT_HOME": str(home)},
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        pooled = _deployments(home)
        assert pooled and all(on_pool and not paused for paused, on_pool, _ in pooled.values()), pooled

        # 4. kill -9 while a webhook's stock cycle waits on the CRM: its run is left Running
        registered = CliRunner().invoke(
            cli,
            [
                "webhooks",
                "register",
                "-c",
                str(world.config_path),
                "--integration",
                "demo",
                "--public-url",
                f"http://127.0.0.1:{port}",
            ],
        )
        assert registered.exit_code == 0, registered.output
        store = open_hub_store(load_config(world.config_path))
        try:
            world.retailcrm.faults.slow_seconds = 30.0
            ship(world, stocked_product(world), 1)
            assert wait_for(
                lambda: bool(store.queue.list(integration="demo", kind=INVENTORIES, status=QueueStatus.IN_PROGRESS)), 60
            )
        finally:
            store.close()
        time.sleep(1.0)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert wait_for(lambda: _refused(f"{api}/health"), 30)  # its Prefect server went with it
        assert [state for state, _ in _runs(home, "stock-sync/demo")] == ["RUNNING"], _runs(home, "stock-sync/demo")

        # 5. the next serve: the killed run marked Crashed, the work pool's deployments left as they were
        world.retailcrm.faults.slow_seconds = 0.0
        proc, out = _serve(world, home, port, prefect_port)
        procs.append(proc)
        text = out.until("serving; Ctrl-C or SIGTERM stops it", 180)
        assert "marked Crashed: 1 flow run(s) left Running by a process that is gone" in text, text
        assert "stock-sync/demo: on demand (left to the workers of work pool skladbridge" in text, text
        seconds = _stop(proc, out)
        print(f"SIGTERM after a restart: stopped in {seconds:.1f} s")
        assert _deployments(home) == pooled  # neither paused nor rewritten
        # the killed run Crashed with the reason; its notice, still pending, carried by a cycle of this serve
        killed = _runs(home, "stock-sync/demo")
        assert [state for state, message in killed if "is gone" in message] == ["CRASHED"], killed
        assert "RUNNING" not in [state for state, _ in killed], killed
    finally:
        world.retailcrm.faults.slow_seconds = 0.0
        for running in procs:
            if running.poll() is None:
                os.killpg(running.pid, signal.SIGKILL)
                running.wait()


def test_serve_pauses_at_its_stop_only_the_deployments_still_its_own(tmp_path: Path) -> None:
    """`skladbridge deploy` while serve runs puts a deployment serve registered on its work pool: serve's
    stop pauses the others (as Prefect's runner does), never that one; the next serve leaves it to the pool."""
    from prefect.client.orchestration import get_client

    from deployments.schedule.deploy import POOL, _ensure_pool, build_deployments
    from deployments.service.serve import Plan, leave_pooled, pause_served
    from hub.config import parse_config

    path = tmp_path / "skladbridge.yaml"
    config = parse_config(
        {
            "integrations": {
                "pausecheck": {
                    "systems": {
                        "ms": {"system": "moysklad", "token": "${PAUSECHECK_MS_TOKEN}"},
                        "crm": {
                            "system": "retailcrm",
                            "base_url": "https://x.retailcrm.ru",
                            "api_key": "${PAUSECHECK_CRM_KEY}",
                        },
                    },
                    "flows": {"stock": {"from": "ms", "to": "crm"}},
                }
            }
        },
        source=path,
        require_secrets=False,
    )

    def served() -> Plan:
        return Plan(config, path, [d for d in build_deployments(config, path) if d.name == "pausecheck"], {})

    first = served()
    assert leave_pooled(first) == {} and sorted(d.full_name for d in first.deployments) == [
        "stock-reconcile/pausecheck",
        "stock-sync/pausecheck",
    ]
    ids = {d.full_name: d.apply() for d in first.deployments}  # as serve's runner registers them
    with get_client(sync_client=True) as client:
        _ensure_pool(client, POOL)
    taken = next(d for d in served().deployments if d.full_name == "stock-sync/pausecheck")
    assert taken.apply(work_pool_name=POOL) == ids["stock-sync/pausecheck"]  # what `deploy` does

    assert asyncio.run(pause_served(list(ids.values()))) == [ids["stock-reconcile/pausecheck"]]
    with get_client(sync_client=True) as client:
        now = {name: client.read_deployment(i) for name, i in ids.items()}
    assert now["stock-reconcile/pausecheck"].paused and now["stock-reconcile/pausecheck"].work_pool_name is None
    assert not now["stock-sync/pausecheck"].paused and now["stock-sync/pausecheck"].work_pool_name == POOL

    second = served()
    assert leave_pooled(second) == {"stock-sync/pausecheck": POOL}
    assert [d.full_name for d in second.deployments] == ["stock-reconcile/pausecheck"]


_STUBBORN = """
import signal
import time

from prefect import flow


@flow(name="stubborn-probe")
def stubborn() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # Prefect's runner cancels with SIGTERM, then waits 30 s
    open(MARKER, "w").close()  # the test stops the runner only from here on
    time.sleep(600)
"""


def test_a_runner_run_still_running_at_the_stops_deadline_is_killed_and_marked_crashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    from prefect.client.orchestration import get_client
    from prefect.runner import Runner

    from deployments.service.serve import _kill_runner_runs, _mark_crashed

    # the run shows RUNNING before its body ignores SIGTERM: the body says when it does (a stop sent
    # in between ended the run and left nothing to test)
    marker = tmp_path / "ignoring-sigterm"
    (tmp_path / "stubborn_probe.py").write_text(f"MARKER = {str(marker)!r}\n{_STUBBORN}", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    stubborn = importlib.import_module("stubborn_probe").stubborn
    runner = Runner(name="stubborn-test", pause_on_shutdown=False, query_seconds=1)

    async def day() -> tuple[list[object], str, str]:
        deployment_id = await runner.aadd_flow(stubborn, name="probe")
        runs = asyncio.create_task(runner.start())
        async with get_client() as client:
            run = await client.create_flow_run_from_deployment(deployment_id)
            deadline = time.monotonic() + 120
            while (await client.read_flow_run(run.id)).state_type.value != "RUNNING" or not marker.exists():  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "the runner never started the run"
                await asyncio.sleep(0.5)
            stopping = asyncio.create_task(runner.astop())
            await asyncio.wait({runs}, timeout=4.0)
            assert not runs.done(), "the stubborn run ended on SIGTERM: nothing is tested"
            handle = runner._process_manager.get(run.id)
            pid = handle.pid if handle else None
            cut = _kill_runner_runs(runner)
            await _mark_crashed(cut, "killed at the stop's deadline")
            state = (await client.read_flow_run(run.id)).state
            stopping.cancel()
            runs.cancel()
            assert pid is not None and state is not None
            return cut, state.type.value, f"{pid}"

    cut, state, pid = asyncio.run(day())
    assert len(cut) == 1 and state == "CRASHED"
    from tasks.run_crashes import process_gone, process_mark

    assert wait_for(lambda: process_gone(process_mark(int(pid))), 10), "the run's process was not killed"
