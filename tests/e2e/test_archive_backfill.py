"""Archive backfill end to end: past orders placed in the retailCRM sandbox (created in March 2024) reach
the MoySklad sandbox once; the ones MoySklad holds already (by ``externalCode``) are linked, not created
again; a run that breaks on page 2 is carried on from its cursor by the scheduled run (no dates: it goes
on with unfinished windows) and ends with every order exactly once; a run from the command line
afterwards creates nothing.

Real flows, real HTTP to the sandboxes on loopback, the real hub store; pages of 20 (a page size
retailCRM takes) so that a few dozen orders make three pages.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from connectors.retailcrm.capabilities import orders as order_exchange
from connectors.retailcrm.capabilities.orders import RetailCRMOrders
from deployments.demo import DemoWorld, demo_world
from hub.capabilities import OrderBatch
from hub.exchanges import RunResult
from tests.e2e.test_full_import import run_import
from tests.e2e.test_order_upload import crm_offers, ms, place
from tests.run_results import summary_of

pytestmark = pytest.mark.usefixtures("prefect_backend")

STREAM = "archive:2024-03-01:2024-03-31:assembling,new"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoWorld]:
    with demo_world(tmp_path_factory.mktemp("archive-backfill"), 10) as running:
        config = yaml.safe_load(running.config_path.read_text(encoding="utf-8"))
        demo = config["integrations"]["demo"]
        demo["flows"]["orders"] = {"from": "crm", "to": "ms"}
        demo["mappings"].update(
            {"statuses": {"new": "Новый", "assembling": "Подтвержден"}, "order_stores": {"msk": "Основной склад"}}
        )
        demo["options"]["orders"] = {"upload_statuses": ["new"]}  # the backfill takes `assembling` too
        running.config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        run_import(running)
        yield running


def backfill(world: DemoWorld, *, scheduled: bool = False) -> dict[str, Any]:
    """A run for March's new and assembling orders; ``scheduled``: as the deployment's schedule runs it
    (no dates: it goes on with the windows runs left unfinished)."""
    return summary_of(backfill_result(world, scheduled=scheduled))


def backfill_result(world: DemoWorld, *, scheduled: bool = False) -> RunResult:
    """:func:`backfill`'s run as it ended, skipped or not."""
    from flows.archive_backfill import archive_backfill

    if scheduled:
        return archive_backfill("demo", config_path=str(world.config_path))
    return archive_backfill(
        "demo",
        config_path=str(world.config_path),
        date_from=date(2024, 3, 1),
        date_to=date(2024, 3, 31),
        statuses=["new", "assembling"],
        trigger="test",
    )


def cursor(world: DemoWorld) -> str | None:
    from hub.config import load_config
    from tasks.hub_tasks import open_hub_store

    store = open_hub_store(load_config(world.config_path))
    try:
        return store.cursors.get("demo", STREAM)
    finally:
        store.close()


def test_past_orders_reach_the_erp_once_linked_where_it_has_them_and_resume_after_a_break(
    world: DemoWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(order_exchange, "PAGE_LIMIT", 20)
    a, b = crm_offers(world, 2)
    first = place(
        world,
        {
            "status": "new",
            "firstName": "Ада",
            "phone": "+7 999 100-00-01",
            "createdAt": "2024-03-01 12:00:00",
            "items": [{"offer": {"id": a["id"]}, "quantity": 1}],
        },
    )
    customer = {"id": first["customer"]["id"]}
    march = [first] + [
        place(
            world,
            {
                "status": ("new", "assembling")[n % 2],
                "customer": customer,
                "shipmentStore": "msk",
                "createdAt": f"2024-03-{2 + n % 28:02d} 10:{n % 60:02d}:00",
                "items": [{"offer": {"id": (a, b)[n % 2]["id"]}, "quantity": 1 + n % 3}],
            },
        )
        for n in range(44)
    ]
    outside = [
        place(
            world,
            {
                "status": "new",
                "customer": customer,
                "createdAt": when,
                "items": [{"offer": {"id": a["id"]}, "quantity": 1}],
            },
        )
        for when in ("2024-02-29 12:00:00", "2024-04-01 12:00:00")
    ]
    other = place(
        world,
        {
            "status": "cancel-other",
            "customer": customer,
            "createdAt": "2024-03-15 12:00:00",
            "items": [{"offer": {"id": a["id"]}, "quantity": 1}],
        },
    )  # a status not asked for

    org = next(iter(ms(world, "organization").values()))
    agent = world.moysklad.writer.create("counterparty", {"name": "Покупатель из прошлого"})
    held = {
        str(o["id"]): world.moysklad.writer.create(
            "customerorder",
            {"organization": {"meta": org["meta"]}, "agent": {"meta": agent["meta"]}, "externalCode": str(o["id"])},
        )["id"]
        for o in march[3::9]
    }  # five orders another tool put in MoySklad before (one on each page)

    real = RetailCRMOrders.orders_in_period
    broke: list[str] = []

    async def breaks_on_page_two(
        self: RetailCRMOrders, start: datetime, end: datetime, statuses: Sequence[str], page: str | None = None
    ) -> OrderBatch:
        if page == "2" and not broke:
            broke.append(page)
            raise RuntimeError("injected: the channel went away on page 2")
        return await real(self, start, end, statuses, page)

    monkeypatch.setattr(RetailCRMOrders, "orders_in_period", breaks_on_page_two)
    with pytest.raises(RuntimeError, match="injected"):
        backfill(world)
    assert cursor(world) == "2"
    after_break = Counter(o.get("externalCode") for o in ms(world, "customerorder").values())
    # held before: 5; page one: 19 March orders (the April one the day filter lets in is cut by the exact
    # bounds), two of them held already
    assert sum(after_break.values()) == 5 + 17 and all(n == 1 for n in after_break.values())

    resumed = backfill(world, scheduled=True)  # the schedule goes on with the broken window
    assert resumed["rows"][0]["what"] == f"{STREAM}: pages read (resumed from page 2)", resumed["rows"]
    assert (resumed["pages"], resumed["orders_read"], resumed["linked"], resumed["done"]) == (2, 26, 3, True)
    assert cursor(world) == "done"
    orders = list(ms(world, "customerorder").values())
    counts = Counter(o.get("externalCode") for o in orders)
    assert counts == Counter({str(o["id"]): 1 for o in march})  # every March order, exactly once
    assert {code: next(o["id"] for o in orders if o.get("externalCode") == code) for code in held} == held
    assert all(str(o["id"]) not in counts for o in [*outside, other])
    crm = world.retailcrm.orders
    by_code = {o["externalCode"]: o["id"] for o in orders}
    assert all(crm[o["id"]].get("externalId") == by_code[str(o["id"])] for o in march)  # ids back on the CRM

    from deployments.cli import app

    again = CliRunner().invoke(
        app,
        [
            "run",
            "archive-backfill",
            "--integration",
            "demo",
            "--from",
            "2024-03-01",
            "--to",
            "2024-03-31",
            "--status",
            "new",
            "--status",
            "assembling",
            "--config",
            str(world.config_path),
        ],
    )
    assert again.exit_code == 0, again.output
    for row in ("orders queued", "orders accepted by the ERP", "of them new in the ERP"):
        assert re.search(rf"^\s*{re.escape(STREAM)}: {re.escape(row)}:\s+0\s*$", again.output, re.M), again.output
    assert re.search(rf"^\s*{re.escape(STREAM)}: orders read:\s+45\s*$", again.output, re.M), again.output
    assert len(ms(world, "customerorder")) == len(orders)
    idle = backfill(world, scheduled=True)  # nothing left unfinished: the scheduled run ends at once
    assert idle["windows"] == [] and idle["accepted"] == 0


def test_the_command_refuses_a_bad_date_and_a_range_backwards_in_one_line(world: DemoWorld) -> None:
    from deployments.cli import app

    for dates, message in (
        (["--from", "2024-03-32", "--to", "2024-04-01"], "--from: 2024-03-32 is not a date"),
        (["--from", "2024-04-01", "--to", "2024-03-01"], "--from 2024-04-01 is after --to"),
    ):
        result = CliRunner().invoke(
            app, ["run", "archive-backfill", "--integration", "demo", *dates, "--config", str(world.config_path)]
        )
        assert result.exit_code != 0 and message in result.output, result.output


def test_a_backfill_waits_while_another_run_holds_the_orders_lock(world: DemoWorld) -> None:
    from hub.config import load_config
    from tasks.hub_tasks import open_hub_store

    store = open_hub_store(load_config(world.config_path))
    try:
        before = store.cursors.get("demo", STREAM)
        with store.locks.hold("demo", "orders"):  # an order-upload cycle is sending
            result = backfill_result(world)
        assert "another run is uploading orders" in result["skipped"]
        assert store.cursors.get("demo", STREAM) == before  # nothing read
    finally:
        store.close()


def test_statuses_the_channel_does_not_have_are_refused_before_a_page_is_read(world: DemoWorld) -> None:
    from deployments.cli import app

    result = CliRunner().invoke(
        app,
        [
            "run",
            "archive-backfill",
            "--integration",
            "demo",
            "--from",
            "2024-05-01",
            "--to",
            "2024-05-31",
            "--status",
            "bogus",
            "--status",
            "new",
            "--config",
            str(world.config_path),
        ],
    )
    assert result.exit_code == 1, result.output
    assert "archive backfill: 'bogus' is not a status of retailcrm (crm); its statuses: " in result.output
    assert "assembling" in result.output and "give --status one of those" in result.output
    assert "Traceback" not in result.output
    from hub.config import load_config
    from tasks.hub_tasks import open_hub_store

    store = open_hub_store(load_config(world.config_path))
    try:
        assert store.cursors.get("demo", "archive:2024-05-01:2024-05-31:bogus,new") is None  # nothing read
    finally:
        store.close()


def test_customers_created_counts_what_the_erp_got(world: DemoWorld) -> None:
    """Two channel customers with one phone are one person: one counterparty, counted once."""
    from flows.archive_backfill import archive_backfill

    a, _ = crm_offers(world, 2)
    for name in ("Грейс", "Грейс Хоппер"):
        place(
            world,
            {
                "status": "new",
                "firstName": name,
                "phone": "+7 999 555-44-33",
                "shipmentStore": "msk",
                "createdAt": "2024-06-03 12:00:00",
                "items": [{"offer": {"id": a["id"]}, "quantity": 1}],
            },
        )
    before = len(ms(world, "counterparty"))
    summary = summary_of(
        archive_backfill(
            "demo",
            config_path=str(world.config_path),
            date_from=date(2024, 6, 1),
            date_to=date(2024, 6, 30),
            trigger="test",
        )
    )
    made = len(ms(world, "counterparty")) - before
    assert (summary["orders_read"], summary["created"], made) == (2, 2, 1), summary["rows"]
    row = next(r for r in summary["rows"] if r["what"].endswith(": customers created"))
    assert row["count"] == made
