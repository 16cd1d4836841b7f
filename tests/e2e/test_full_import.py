"""The full import end to end: sandboxes on loopback sockets, the real Prefect flow, the real store.

What a merchant cares about: the CRM ends up with the catalog, the stock (mapped stores summed) and
the prices MoySklad has; a second run writes nothing; a change sends only that change; a run that
died half-way and is run again ends exactly where an uninterrupted run ends; a missing mapping stops
the run before anything is written to the CRM.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from deployments.demo import DemoWorld, demo_world
from tests.run_results import summary_of

PRODUCTS = 240
STORE_MAP = {"Основной склад": "msk", "Склад 2": "msk", "Склад 3": "spb"}  # Склад 4 -> null (left out)

pytestmark = pytest.mark.usefixtures("prefect_backend")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[DemoWorld]:
    with demo_world(tmp_path / "demo", PRODUCTS) as running:
        yield running


def run_import(world: DemoWorld, wait: float = 30) -> dict[str, Any]:
    from flows.full_import import full_import

    return summary_of(full_import("demo", config_path=str(world.config_path), catalog_wait_seconds=wait))


def expected_inventory(world: DemoWorld) -> dict[str, dict[str, float]]:
    """What MoySklad's ledger says each live stocked offer should show per CRM warehouse."""
    ms = world.moysklad
    store_ids = {s["name"]: s["id"] for s in ms.store.entities["store"].values()}
    code_of = {store_ids[name]: code for name, code in STORE_MAP.items()}
    live = {
        oid
        for kind in ("product", "variant")
        for oid, obj in ms.store.entities[kind].items()
        if not obj.get("archived") and not (kind == "product" and obj.get("variantsCount"))
    }
    totals: dict[str, dict[str, float]] = {oid: {"msk": 0.0, "spb": 0.0} for oid in live}
    for row in ms.ledger.report(by_store=True, stock_type="freeStock", include_zero=True):
        code = code_of.get(row.get("storeId"))
        if code and row["assortmentId"] in totals:
            totals[row["assortmentId"]][code] += max(float(row["freeStock"]), 0.0)
    return totals


def crm_inventory(world: DemoWorld) -> dict[str, dict[str, float]]:
    """What the CRM sandbox holds, by the offer's xmlId (the MoySklad id)."""
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for crm_id, stores in world.retailcrm.inventories.items():
        xml_id = world.retailcrm.offers[crm_id].get("xmlId")
        for code, item in stores.items():
            out[str(xml_id)][code] = float(item["available"])
    return dict(out)


def crm_writes(world: DemoWorld) -> int:
    return sum(1 for r in world.retailcrm.log if r.method == "POST" and "/store/" in r.path)


def test_full_import_publishes_catalog_stock_and_prices(world: DemoWorld, caplog: pytest.LogCaptureFixture) -> None:
    import logging
    import os

    with caplog.at_level(logging.DEBUG):
        summary = run_import(world)

    assert not world.moysklad.banned
    # the run's summary table is in Prefect, where the UI shows it
    from prefect.artifacts import Artifact

    artifact: Any = Artifact.get("full-import-demo")
    assert artifact is not None and artifact.type == "table"
    assert "inventories: offers sent" in str(artifact.data) and "requests: moysklad" in str(artifact.data)
    assert summary["requests"]["moysklad"]["rate_refusals"] == 0
    assert summary["requests"]["retailcrm"]["rate_refusals"] == 0
    expected = expected_inventory(world)
    assert crm_inventory(world) == expected
    # every live offer is in the CRM's catalog (loaded from our feed), with both mapped prices
    xml_ids = {str(o.get("xmlId")) for o in world.retailcrm.offers.values()}
    assert set(expected) <= xml_ids
    priced = [p for p in world.retailcrm.prices.values() if set(p) >= {"base", "wholesale"}]
    assert len(priced) == len(expected)
    # the hub recorded links: every offer has a hub key
    from hub.store import open_store

    store = open_store(f"sqlite:///{world.workdir / 'skladbridge.db'}")
    try:
        links = store.links.resolve("demo", "offers", "moysklad", list(expected))
        assert set(links) == set(expected)
        # ... and the channel side of the same hub keys: MoySklad id <-> hub key <-> CRM externalId
        channel = store.links.external_ids("demo", "offers", "retailcrm", list(links.values()))
        assert {channel[key] for key in links.values()} == set(expected)
        assert store.queue.counts("demo").get("dead", 0) == 0
    finally:
        store.close()
    # no secret in any log record, the summary, the hub database or the feed
    secrets = [os.environ["SKLADBRIDGE_DEMO_MS_PASSWORD"], os.environ["SKLADBRIDGE_DEMO_CRM_KEY"]]
    texts = [r.getMessage() for r in caplog.records] + [str(summary)]
    files = [world.workdir / name for name in ("skladbridge.db", "skladbridge.db-wal", "feeds/demo.xml")]
    blobs = [path.read_bytes() for path in files if path.exists()]
    for secret in secrets:
        assert not any(secret in text for text in texts)
        assert not any(secret.encode() in blob for blob in blobs)


def test_feed_pictures_are_links_the_crm_can_load(world: DemoWorld) -> None:
    import re

    summary = run_import(world)
    pictures = re.findall(r"<picture>([^<]*)</picture>", (world.workdir / "feeds" / "demo.xml").read_text("utf-8"))
    assert pictures and not any("/api/remap/" in p for p in pictures)  # permanent links, no auth needed
    assert not any("public link" in w for w in summary["warnings"])


def test_on_a_free_tariff_pictures_are_left_out_with_a_warning(world: DemoWorld) -> None:
    world.moysklad.paid_tariff = False  # no downloadPermanentHref: only links that need our credentials
    summary = run_import(world, wait=0)
    assert "<picture>" not in (world.workdir / "feeds" / "demo.xml").read_text("utf-8")
    assert any("no public link" in w for w in summary["warnings"])


def test_second_run_with_nothing_changed_writes_nothing(world: DemoWorld) -> None:
    run_import(world)
    writes, feed_mtime = crm_writes(world), (world.workdir / "feeds" / "demo.xml").stat().st_mtime
    second = run_import(world, wait=0)
    assert crm_writes(world) == writes
    assert all(v["batches"] == 0 for v in second["uploaded"].values())
    assert (world.workdir / "feeds" / "demo.xml").stat().st_mtime == feed_mtime
    assert second["pages"]["images_fetched_for"] == 0


def test_a_stock_change_sends_only_that_offer(world: DemoWorld) -> None:
    run_import(world)
    expected = expected_inventory(world)
    offer = sorted(expected)[0]
    main_store = next(s["id"] for s in world.moysklad.store.entities["store"].values() if s["name"] == "Основной склад")
    world.moysklad.ledger.apply("test-receipt", [(offer, main_store, "stock", 7.0)], datetime.now(UTC))

    second = run_import(world, wait=0)

    assert second["planned"]["inventories"]["changed"] == 1
    assert second["uploaded"]["inventories"]["entries"] == 1
    assert crm_inventory(world)[offer]["msk"] == expected[offer]["msk"] + 7.0


def test_items_deleted_in_moysklad_leave_the_hub_the_feed_and_the_crm_catalog(world: DemoWorld) -> None:
    from hub.store import open_store

    run_import(world)
    ms = world.moysklad.store
    live = sorted(expected_inventory(world))
    product = next(oid for oid in live if oid in ms.entities["product"])
    variant = next(oid for oid in live if oid in ms.entities.get("variant", {}))
    ms.delete("product", product)
    ms.delete("variant", variant)

    second = run_import(world)

    assert second["removed"]["offers"] == 2 and second["removed"]["products"] == 1
    feed = (world.workdir / "feeds" / "demo.xml").read_text(encoding="utf-8")
    assert f"<xmlId>{product}</xmlId>" not in feed and f"<xmlId>{variant}</xmlId>" not in feed
    crm = {str(o.get("xmlId")): o for o in world.retailcrm.offers.values()}
    assert not crm[product]["active"] and not crm[variant]["active"]  # the CRM dropped them on load
    assert crm[live[-1]]["active"]
    store = open_store(f"sqlite:///{world.workdir / 'skladbridge.db'}")
    try:
        assert store.records.frame("demo", "offers", keys=[product, variant]).empty
        assert store.records.frame("demo", "prices", parents=[product, variant]).empty
    finally:
        store.close()
    third = run_import(world, wait=0)
    assert third["removed"] == {"offers": 0, "products": 0}


def test_a_product_that_gains_a_variant_loses_its_own_offer(world: DemoWorld) -> None:
    run_import(world)
    ms = world.moysklad.store
    product_id = next(oid for oid in sorted(expected_inventory(world)) if oid in ms.entities["product"])
    product = ms.entities["product"][product_id]
    # what MoySklad holds once a variant is added: the variant, and the product's variantsCount
    variant = ms.put(
        "variant",
        {
            "name": f"{product['name']} (XL)",
            "code": f"{product['code']}-xl",
            "externalCode": f"{product['externalCode']}-xl",
            "archived": False,
            "characteristics": [],
            "product": {"meta": product["meta"]},
        },
    )
    ms.put("product", {**product, "variantsCount": 1})

    second = run_import(world)

    assert second["removed"]["offers"] == 1 and second["removed"]["products"] == 0
    feed = (world.workdir / "feeds" / "demo.xml").read_text(encoding="utf-8")
    assert f"<xmlId>{product_id}</xmlId>" not in feed and f"<xmlId>{variant['id']}</xmlId>" in feed
    crm = {str(o.get("xmlId")): o for o in world.retailcrm.offers.values()}
    assert not crm[product_id]["active"] and crm[variant["id"]]["active"]


def test_an_owner_with_fewer_images_keeps_only_those(world: DemoWorld) -> None:
    from hub.store import open_store

    run_import(world)
    ms = world.moysklad.store
    owner_id = next(oid for oid, images in ms.images.items() if len(images) >= 2 and oid in ms.entities["product"])
    owner = ms.entities["product"][owner_id]
    ms.images[owner_id] = ms.images[owner_id][:1]
    ms.put("product", {**owner, "images": {"meta": {**owner["images"]["meta"], "size": 1}}})  # moves `updated`

    run_import(world, wait=0)

    store = open_store(f"sqlite:///{world.workdir / 'skladbridge.db'}")
    try:
        assert len(store.records.frame("demo", "images", parents=[owner_id])) == 1
    finally:
        store.close()


def test_interrupted_run_resumes_to_the_same_state(
    world: DemoWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connectors.retailcrm.client import RetailCRMClient

    real_upload = RetailCRMClient.upload_inventories
    calls = 0

    async def dying_upload(self: RetailCRMClient, offers: Any, **kw: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls > 1:  # the process "dies" after the first batch got through
            raise RuntimeError("simulated crash mid-upload")
        return await real_upload(self, offers, **kw)

    monkeypatch.setattr(RetailCRMClient, "upload_inventories", dying_upload)
    with pytest.raises(Exception, match="simulated crash"):
        run_import(world)
    monkeypatch.setattr(RetailCRMClient, "upload_inventories", real_upload)
    assert crm_inventory(world) != expected_inventory(world)

    run_import(world, wait=0)

    assert crm_inventory(world) == expected_inventory(world)
    third = run_import(world, wait=0)
    assert all(v["batches"] == 0 for v in third["uploaded"].values())


def test_missing_store_mapping_stops_before_any_crm_write(world: DemoWorld) -> None:
    from tasks.mapping_check import MappingError

    text = world.config_path.read_text(encoding="utf-8").replace("Склад 3: spb, ", "")
    world.config_path.write_text(text, encoding="utf-8")
    with pytest.raises(MappingError) as info:
        run_import(world)
    assert "Склад 3" in str(info.value) and "msk" in str(info.value)
    assert crm_writes(world) == 0
    assert not (world.workdir / "feeds" / "demo.xml").exists()


def test_a_page_cut_short_is_fetched_again_and_nothing_is_lost(tmp_path: Path) -> None:
    with demo_world(tmp_path / "partial", 1100) as world:  # two assortment pages
        world.moysklad.faults.partial_pages = 1  # the first assortment page loses half its rows, once
        world.moysklad.faults.partial_pages_on = "/entity/assortment"
        summary = run_import(world)
        assert world.moysklad.faults.partial_pages == 0
        # fetched again by the client within the same read (counted), not by retrying the task
        assert summary["requests"]["moysklad"]["malformed_answers"] == 1
        assert crm_inventory(world) == expected_inventory(world)
        assert summary["pages"]["rows"] == sum(
            len(world.moysklad.store.entities.get(t, {})) for t in ("product", "service", "bundle", "variant")
        )
        assert summary["removed"] == {"offers": 0, "products": 0}


def test_a_second_run_of_the_same_integration_is_refused_before_any_write(world: DemoWorld) -> None:
    from hub.store import ExchangeBusyError, open_store

    store = open_store(f"sqlite:///{world.workdir / 'skladbridge.db'}")
    try:
        with store.locks.hold("demo", "inventories"):  # another worker is publishing stock
            with pytest.raises(ExchangeBusyError, match="another run is already publishing"):
                run_import(world, wait=0)
            assert crm_writes(world) == 0 and not (world.workdir / "feeds" / "demo.xml").exists()
        run_import(world, wait=30)  # once it is done, the run goes through
        assert crm_inventory(world) == expected_inventory(world)
    finally:
        store.close()


def test_run_killed_during_extraction_resumes_to_the_same_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with demo_world(tmp_path / "two-pages", 1100) as world:  # 1430 assortment rows: two pages
        _kill_during_extraction_then_resume(world, monkeypatch)


def _kill_during_extraction_then_resume(world: DemoWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    import tasks.catalog.extract as extract

    real_process = extract._process_page
    pages = 0

    async def dying_process(run: Any, page: Any, images: Any) -> Any:
        nonlocal pages
        pages += 1
        if pages > 1:  # staged the first page, then the process "dies"
            raise RuntimeError("simulated crash mid-extraction")
        return await real_process(run, page, images)

    monkeypatch.setattr(extract, "_process_page", dying_process)
    monkeypatch.setattr(extract.import_page_range, "retries", 0)
    with pytest.raises(Exception, match="simulated crash"):
        run_import(world)
    assert crm_writes(world) == 0  # nothing was published from a half-read catalog
    monkeypatch.setattr(extract, "_process_page", real_process)

    run_import(world)

    assert crm_inventory(world) == expected_inventory(world)


def test_resend_all_sends_everything_again(world: DemoWorld) -> None:
    """After the CRM lost its stock, a resend restores it although the snapshots say it was sent."""
    from flows.full_import import full_import

    run_import(world)
    expected = expected_inventory(world)
    world.retailcrm.inventories.clear()

    quiet = run_import(world, wait=0)
    assert quiet["uploaded"]["inventories"]["batches"] == 0  # the hub cannot know the CRM lost data
    resent = summary_of(full_import("demo", config_path=str(world.config_path), resend_all=True))

    assert resent["uploaded"]["inventories"]["entries"] == len(expected)
    assert crm_inventory(world) == expected
