"""The console in Chromium over a running hub: the demo's sandboxes (MoySklad, retailCRM), a full
import, the exchanges deployed on a real Prefect server (the session's test server), and an order
parked because its status is not mapped.

* The Active switch pauses every deployment of the integration (schedules inactive), as
  ``skladbridge deploy`` does for ``active: false``, and resumes them; checked on the Prefect server.
  The switch is kept in the hub store: a ``deploy`` re-run in between keeps the pause.
* "Start a full import" creates a run of the deployment (it shows in the Prefect UI).
* The parked order's status, listed under *Undefined* with the order, is mapped there; the saved
  value wins over the file, the next order upload plans the order again, and it reaches MoySklad.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from deployments.console import console_app
from deployments.console.auth import hash_password
from deployments.demo import DemoWorld, demo_world
from hub.config import load_config
from hub.store import Store
from tasks.hub_tasks import open_hub_store
from tests.deployments.console.browser import accessible, browser_page, log_in, screenshot, served
from tests.e2e.test_full_import import run_import
from tests.e2e.test_order_upload import crm_offers, ms, place, ref, upload

pytestmark = [pytest.mark.usefixtures("prefect_backend"), pytest.mark.slow]

PASSWORD = "manager pass 2026"


@dataclass
class Hub:
    world: DemoWorld
    store: Store
    base: str
    page: Any
    parked_order: dict[str, Any]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    import deployments.schedule.deploy as deploying

    with demo_world(tmp_path_factory.mktemp("console-orders"), 30) as world:
        config = yaml.safe_load(world.config_path.read_text(encoding="utf-8"))
        demo = config["integrations"]["demo"]
        demo["mappings"]["statuses"] = {"new": "Новый", "complete": "Отгружен"}  # "assembling" is not mapped
        demo["options"]["orders"] = {"upload_statuses": ["new", "assembling"]}
        config["console"] = {"users": {"manager": {"password_hash": hash_password(PASSWORD)}}}
        world.config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        run_import(world)
        upload(world)  # the first read sets the cursor
        offer = crm_offers(world, 1)[0]
        order = place(
            world,
            {
                "status": "assembling",
                "firstName": "Ада",
                "lastName": "Лавлейс",
                "items": [{"offer": {"id": offer["id"]}, "quantity": 1}],
            },
        )
        parked = upload(world)
        assert parked["parked"] == 1, parked
        loaded = load_config(world.config_path)
        deploying.deploy(loaded)  # the exchanges as deployments on the session's Prefect server
        store = open_hub_store(loaded)
        try:
            with served(console_app(loaded, lambda: store)) as base, browser_page() as page:
                log_in(page, base, "manager", PASSWORD)
                yield Hub(world, store, base, page, order)
        finally:
            store.close()


def _off_the_browser_loop(fn: Any, *args: Any) -> Any:
    """``fn(*args)`` in a thread of its own: Playwright's sync API keeps an event loop running in this
    one, and a flow's own ``asyncio.run`` may not start inside it."""
    import contextvars
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(contextvars.copy_context().run, fn, *args).result()


def _deployments() -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterTags

    with get_client(sync_client=True) as client:
        tagged = DeploymentFilter(tags=DeploymentFilterTags(all_=["skladbridge", "integration:demo"]))
        return list(client.read_deployments(deployment_filter=tagged))


def test_the_active_switch_pauses_and_resumes_the_deployments_in_prefect(hub: Hub) -> None:
    page = hub.page
    page.goto(f"{hub.base}/")
    before = _deployments()
    assert before and not any(d.paused for d in before)
    accessible(page, "integrations")
    screenshot(page, "integrations")
    with page.expect_navigation():
        page.get_by_role("button", name="Switch demo off (pause its deployments)").click()
    assert f"{len(before)} deployment(s) paused" in page.get_by_role("status").first.inner_text()
    paused = _deployments()
    assert all(d.paused for d in paused)
    assert all(not s.active for d in paused for s in d.schedules)
    assert page.locator(".badge.off").count() == 1
    assert "Switched off in the console by manager" in page.locator("main").inner_text()
    # kept in the store: a deploy re-run (or serve's next start) plans from the file, yet keeps the pause
    switch = hub.store.switches.get("demo")
    assert switch is not None and not switch.active and switch.by == "manager"
    import deployments.schedule.deploy as deploying

    _off_the_browser_loop(deploying.deploy, load_config(hub.world.config_path))
    assert all(d.paused for d in _deployments())
    with page.expect_navigation():
        page.get_by_role("button", name="Switch demo on (resume its deployments)").click()
    resumed = _deployments()
    assert not any(d.paused for d in resumed) and all(s.active for d in resumed for s in d.schedules)
    assert hub.store.switches.get("demo").active  # type: ignore[union-attr]


def test_a_full_import_is_started_as_a_run_of_its_deployment(hub: Hub) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    page = hub.page
    page.goto(f"{hub.base}/")
    with page.expect_navigation():
        page.get_by_role("button", name="Start: Full import of the catalog (demo)").click()
    assert "full-import of demo started" in page.get_by_role("status").first.inner_text()
    full = next(d for d in _deployments() if d.name == "demo" and "full-import" in d.tags)
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[full.id])))
    assert len(runs) == 1 and "console" in runs[0].tags
    page.goto(f"{hub.base}/")
    link = page.locator(f'a[href$="/runs/flow-run/{runs[0].id}"]')
    assert link.count() == 1  # the last run, linked to the Prefect UI


def test_an_undefined_status_mapped_in_the_console_lets_the_parked_order_through(hub: Hub) -> None:
    page, order = hub.page, hub.parked_order
    page.goto(f"{hub.base}/undefined")
    row = page.get_by_role("row").filter(has_text="assembling")
    assert str(order["id"]) in row.inner_text()  # where it was met: the parked order
    accessible(page, "undefined")
    screenshot(page, "undefined")
    row.get_by_label("Map assembling to").fill("Подтвержден")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    notice = page.get_by_role("status").first.inner_text()
    assert "saved: statuses assembling → Подтвержден" in notice and "order upload started" in notice
    assert "assembling" not in page.get_by_role("table").inner_text()
    assert hub.store.mappings.saved("demo") == {"statuses": {"assembling": "Подтвержден"}}

    again = _off_the_browser_loop(upload, hub.world)  # what the started run (or the next scheduled one) does
    assert (again["parked"], again["accepted"], again["created"]) == (0, 1, 1), again
    assert {"what": "parked orders planned again", "count": 1} in again["rows"]
    orders = {o["externalCode"]: o for o in ms(hub.world, "customerorder").values()}
    states = {s["name"]: s["id"] for s in hub.world.moysklad.store.states}
    assert ref(orders[str(order["id"])]["state"]) == states["Подтвержден"]
    page.goto(f"{hub.base}/queue?integration=demo&kind=orders&status=done")
    assert f"order_id={order['id']}" in page.get_by_role("table").inner_text()
    accessible(page, "queue")


def test_mappings_show_the_values_the_systems_have_and_refuse_one_they_do_not(hub: Hub) -> None:
    page = hub.page
    page.goto(f"{hub.base}/mappings?integration=demo")
    with page.expect_navigation():
        page.get_by_role("button", name="Read the values the systems have").click()
    assert "read the systems' values" in page.get_by_role("status").first.inner_text()
    assert page.locator(".warning").count() == 0  # every system answered
    states = page.locator("#targets-statuses option").evaluate_all("os => os.map(o => o.value)")
    assert {"Новый", "Подтвержден", "Отгружен"} <= set(states)  # the ERP's order states, live
    unmapped = page.locator("tr.unmapped").all_inner_texts()
    assert any(row.startswith("statuses") for row in unmapped)  # CRM statuses no mapping covers
    saved = page.get_by_role("row", name="statuses assembling —", exact=False).first
    assert "Подтвержден" in saved.inner_text() and "not mapped" not in saved.inner_text()  # saved here
    accessible(page, "mappings")
    screenshot(page, "mappings")
    row = page.locator("tr.unmapped").filter(has_text="statuses").first
    row.locator("input[name=target]").fill("Нет такого")
    with page.expect_navigation():
        row.get_by_role("button", name="Save").click()
    assert "is not a value the system has" in page.get_by_role("alert").inner_text()


def test_check_now_calls_each_system_with_its_credentials(hub: Hub) -> None:
    page = hub.page
    page.goto(f"{hub.base}/")
    with page.expect_navigation():
        page.get_by_role("button", name="Check the systems of demo now").click()
    systems = page.get_by_role("table").first.inner_text()
    assert systems.count("ok: ") == 2, systems  # MoySklad and retailCRM answered our credentials
