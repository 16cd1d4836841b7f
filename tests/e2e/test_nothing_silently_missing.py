"""Nothing silently missing, no green failures: what a merchant meets when the channel lags behind
the feed, when a run dies between the feed and the uploads, and when a setting is wrong.

Sandboxes on loopback sockets, the real Prefect flow, the real store.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from deployments.demo import DemoWorld, demo_world
from tests.e2e.test_full_import import crm_inventory, crm_writes, expected_inventory, run_import

pytestmark = pytest.mark.usefixtures("prefect_backend")
NEW_PRODUCTS = 3


@pytest.fixture
def world(tmp_path: Path) -> Iterator[DemoWorld]:
    with demo_world(tmp_path / "demo", 120) as running:
        yield running


def _add_products(world: DemoWorld, n: int) -> list[str]:
    """New products in MoySklad, each with stock in the main store (what a merchant adds)."""
    ms = world.moysklad.store
    template = next(p for p in ms.entities["product"].values() if not p.get("archived") and not p.get("variantsCount"))
    main = next(s["id"] for s in ms.entities["store"].values() if s["name"] == "Основной склад")
    added = []
    for i in range(n):
        fields = {k: v for k, v in template.items() if k not in ("id", "meta", "images")}
        product = ms.put("product", {**fields, "name": f"Новинка {i}", "code": f"new-{i}", "externalCode": f"new-{i}"})
        world.moysklad.ledger.apply(f"receipt-new-{i}", [(product["id"], main, "stock", 5.0 + i)], datetime.now(UTC))
        added.append(product["id"])
    return added


def _crm_loads_the_feed(world: DemoWorld) -> None:
    world.retailcrm.load_icml(world.workdir / "feeds" / "demo.xml", "demo")


def test_offers_the_crm_did_not_know_are_sent_once_it_has_loaded_the_feed(world: DemoWorld) -> None:
    run_import(world)  # the CRM has the catalog, stock and prices
    world.retailcrm.catalog_refresh_seconds = None  # from now on it loads the feed only when told
    added = _add_products(world, NEW_PRODUCTS)

    before = run_import(world, wait=0)  # the feed has the new offers; the CRM has not loaded it yet
    assert before["uploaded"]["inventories"]["not_found"] == NEW_PRODUCTS
    assert before["uploaded"]["prices"]["not_found"] == NEW_PRODUCTS
    assert any("sent again next run" in w for w in before["warnings"])
    _crm_loads_the_feed(world)

    after = run_import(world, wait=0)

    # exactly the offers that were not found, no others
    assert after["planned"]["inventories"]["changed"] == NEW_PRODUCTS
    assert after["uploaded"]["inventories"]["entries"] == NEW_PRODUCTS
    assert after["uploaded"]["prices"]["entries"] == NEW_PRODUCTS
    assert after["uploaded"]["inventories"]["not_found"] == 0
    assert crm_inventory(world) == expected_inventory(world)
    assert all(crm_inventory(world)[offer]["msk"] > 0 for offer in added)
    again = run_import(world, wait=0)
    assert all(v["batches"] == 0 for v in again["uploaded"].values())


def test_a_run_killed_between_feed_and_upload_sends_the_unknown_offers_later(
    world: DemoWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tasks.publish as publish

    world.retailcrm.catalog_refresh_seconds = None  # the CRM loads the feed only when told

    def killed(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("simulated kill after the feed was written")

    monkeypatch.setattr(publish, "drain", killed)
    import flows.full_import as flow_module

    monkeypatch.setattr(flow_module, "drain", killed)
    with pytest.raises(Exception, match="simulated kill"):
        run_import(world, wait=0)
    monkeypatch.undo()
    assert (world.workdir / "feeds" / "demo.xml").exists() and crm_writes(world) == 0

    first = run_import(world, wait=0)  # the feed is unchanged, the CRM still has not loaded it
    expected = expected_inventory(world)
    assert first["uploaded"]["inventories"]["not_found"] == len(expected)
    _crm_loads_the_feed(world)

    second = run_import(world, wait=0)

    assert second["uploaded"]["inventories"]["entries"] == len(expected)
    assert crm_inventory(world) == expected
    third = run_import(world, wait=0)
    assert all(v["batches"] == 0 for v in third["uploaded"].values())


def test_a_rerun_after_a_kill_waits_for_the_unchanged_feed_to_load(
    world: DemoWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The catalog wait is not skipped because the re-run found the feed already written: the CRM
    loads it only once the re-run has started waiting (here: on its first look for our offers)."""
    import threading

    import flows.full_import as flow_module

    world.retailcrm.catalog_refresh_seconds = None

    def killed(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("simulated kill after the feed was written")

    monkeypatch.setattr(flow_module, "drain", killed)
    with pytest.raises(Exception, match="simulated kill"):
        run_import(world, wait=0)
    monkeypatch.undo()
    seen = len(world.retailcrm.log)
    stop = threading.Event()

    def crm_loads_when_asked() -> None:
        while not stop.wait(0.05):
            if any("/store/offers" in r.path for r in list(world.retailcrm.log)[seen:]):
                _crm_loads_the_feed(world)
                return

    loader = threading.Thread(target=crm_loads_when_asked, daemon=True)
    loader.start()
    try:
        summary = run_import(world, wait=30)
    finally:
        stop.set()
        loader.join()

    assert summary["uploaded"]["inventories"]["not_found"] == 0
    assert crm_inventory(world) == expected_inventory(world)


def test_a_wrong_site_writes_nothing_and_says_what_to_fix(world: DemoWorld) -> None:
    from tasks.mapping_check import MappingError

    text = world.config_path.read_text(encoding="utf-8").replace("site: demo", "site: shop")
    world.config_path.write_text(text, encoding="utf-8")
    with pytest.raises(MappingError) as info:
        run_import(world)
    assert "systems.crm: site 'shop' is not a site of this retailCRM account; its sites: ['demo']" in str(info.value)
    assert crm_writes(world) == 0
    assert not (world.workdir / "feeds" / "demo.xml").exists()


def test_a_run_whose_batches_were_refused_fails_and_says_why(world: DemoWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CRM refuses every stock upload with HTTP 400 (as it answers a site the key lost access to
    after the check): the run must not end green."""
    from prefect.artifacts import Artifact

    from connectors.http import ConnectorError
    from connectors.retailcrm.client import RetailCRMClient
    from tasks.publish import UploadsFailed

    async def refused(self: RetailCRMClient, offers: Any, **kw: Any) -> Any:
        raise ConnectorError("retailcrm", "/store/inventories/upload", 400, "Site 'demo' is not found")

    monkeypatch.setattr(RetailCRMClient, "upload_inventories", refused)
    with pytest.raises(UploadsFailed, match=r"inventories: \d+ batch(es)? not accepted .*refused for good"):
        run_import(world)
    artifact: Any = Artifact.get("full-import-demo")
    assert "batches not accepted" in str(artifact.data) and "Site 'demo' is not found" in str(artifact.data)
    assert crm_inventory(world) == {}
    assert len(world.retailcrm.prices) > 0  # what was accepted stays accepted

    monkeypatch.undo()  # the merchant fixed it: the dead batches are retried from the queue
    from hub.store import open_store

    store = open_store(f"sqlite:///{world.workdir / 'skladbridge.db'}")
    try:
        assert store.queue.retry_dead("demo", "inventories") > 0
    finally:
        store.close()
    run_import(world, wait=0)
    assert crm_inventory(world) == expected_inventory(world)


def test_a_full_import_under_ten_percent_faults_finishes_in_one_run_and_converges(world: DemoWorld) -> None:
    """429 bursts, 5xx, lost answers (reads and writes), dropped write responses and cut pages, on both
    systems: one run ends where a clean run ends, with nothing sent twice and nothing missing."""
    from connectors.sandboxing import FaultPlan

    world.moysklad.faults = FaultPlan(
        server_error_rate=0.05,
        lost_answer_rate=0.05,
        rate_limit_burst=2,
        partial_pages=3,
        partial_pages_on="/entity/assortment",
        seed=7,
    )
    world.retailcrm.faults = FaultPlan(
        server_error_rate=0.05, lost_answer_rate=0.05, rate_limit_burst=2, drop_after_write=3, seed=11
    )

    summary = run_import(world)

    statuses = Counter(r.status for r in [*world.moysklad.log, *world.retailcrm.log])
    faulty = statuses[0] + statuses[429] + statuses[500] + statuses[503]
    assert faulty >= 0.1 * statuses.total() and statuses[0] and statuses[500], statuses
    assert statuses[429] and statuses[503]  # each system's rate refusal
    assert world.moysklad.faults.partial_pages == 0 and world.retailcrm.faults.drop_after_write == 0
    assert not world.moysklad.banned
    assert not summary["failures"] and all(v["unfinished"] == 0 for v in summary["uploaded"].values())
    expected = expected_inventory(world)
    assert crm_inventory(world) == expected
    assert len([p for p in world.retailcrm.prices.values() if set(p) >= {"base", "wholesale"}]) == len(expected)
    xml_ids = [str(o.get("xmlId")) for o in world.retailcrm.offers.values()]
    assert len(xml_ids) == len(set(xml_ids))  # no offer twice

    world.moysklad.faults, world.retailcrm.faults = FaultPlan(), FaultPlan()
    again = run_import(world, wait=0)
    assert all(v["batches"] == 0 for v in again["uploaded"].values())  # it had converged: nothing left to send
