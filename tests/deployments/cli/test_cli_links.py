"""``skladbridge links``: the "External id-objects" screen by hand, against both sandboxes on loopback.

A manager links the shop's customer to a MoySklad counterparty the hub would never have found (another
name, no phone): the link is checked in both systems (one request each), listed, refused when an id
does not exist or is taken, and the order upload then uses that counterparty instead of searching.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from deployments.cli import app
from deployments.demo import DemoWorld, demo_world
from tests.e2e.test_full_import import run_import
from tests.e2e.test_order_upload import crm_offers, ms, place, ref, upload

pytestmark = pytest.mark.usefixtures("prefect_backend")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoWorld]:
    with demo_world(tmp_path_factory.mktemp("links"), 12) as running:
        config = yaml.safe_load(running.config_path.read_text(encoding="utf-8"))
        demo = config["integrations"]["demo"]
        demo["mappings"].update({"statuses": {"new": "Новый"}, "order_stores": {"msk": "Основной склад"}})
        demo["options"]["orders"] = {"upload_statuses": ["new"]}
        running.config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        run_import(running)
        yield running


def links(world: DemoWorld, *args: str) -> Any:
    return CliRunner().invoke(app, ["links", *args, "--integration", "demo", "--config", str(world.config_path)])


def asked(world: DemoWorld, needle: str) -> int:
    """Requests either sandbox logged whose path holds ``needle``."""
    return sum(1 for log in (world.moysklad.log, world.retailcrm.log) for r in log if needle in r.path)


def list_reads(world: DemoWorld) -> int:
    """Counterparty searches: reads of the list (``filter=phone=…``, ``search=…``), not of one by id."""
    return sum(1 for r in world.moysklad.log if r.path.rstrip("/") == "/entity/counterparty" and r.method == "GET")


def test_links_by_hand_are_checked_listed_refused_removed_and_used_by_the_order_upload(world: DemoWorld) -> None:
    assert upload(world)["first_read"]  # the order cursor starts now
    (offer,) = crm_offers(world, 1)
    first = place(
        world, {"status": "cancel-other", "firstName": "Ада", "items": [{"offer": {"id": offer["id"]}, "quantity": 1}]}
    )
    other = place(
        world,
        {"status": "cancel-other", "firstName": "Бэбидж", "items": [{"offer": {"id": offer["id"]}, "quantity": 1}]},
    )
    customer, other_customer = str(first["customer"]["id"]), str(other["customer"]["id"])
    # the counterparty the manager knows is hers: another name, no phone (a search would not find it)
    company = world.moysklad.writer.create("counterparty", {"name": "ИП Лавлейс А. (опт)"})["id"]
    spare = world.moysklad.writer.create("counterparty", {"name": "ООО Другое"})["id"]

    before_crm, before_ms = asked(world, f"/customers/{customer}"), asked(world, f"/entity/counterparty/{company}")
    added = links(world, "add", "--kind", "customers", customer, company)
    assert added.exit_code == 0, added.output
    assert f"linked customer crm {customer} ⇄ ms {company}" in added.output
    # each id asked once, in its own system
    assert asked(world, f"/customers/{customer}") - before_crm == 1
    assert asked(world, f"/entity/counterparty/{company}") - before_ms == 1

    listed = links(world, "list", "--kind", "customers")
    assert listed.exit_code == 0 and [customer, company] in [line.split() for line in listed.output.splitlines()]
    assert "1 customers linked" in listed.output

    # ids that exist nowhere: refused, each named, nothing linked
    ghost = str(uuid.uuid4())
    missing = links(world, "add", "--kind", "customers", other_customer, ghost)
    assert missing.exit_code == 1 and f"ms (moysklad) has no customer '{ghost}'" in missing.output
    unknown = links(world, "add", "--kind", "customers", "987654", spare)
    assert unknown.exit_code == 1 and "crm (retailcrm) has no customer '987654'" in unknown.output
    # one id, two objects: refused either way round, before any request
    before = asked(world, "/customers/") + asked(world, "/entity/counterparty/")
    taken = links(world, "add", "--kind", "customers", customer, spare)
    assert taken.exit_code == 1 and f"crm {customer} is linked to ms {company}" in taken.output
    taken_back = links(world, "add", "--kind", "customers", other_customer, company)
    assert taken_back.exit_code == 1 and f"ms {company} is linked to crm {customer}" in taken_back.output
    assert asked(world, "/customers/") + asked(world, "/entity/counterparty/") == before
    assert "1 customers linked" in links(world, "list", "--kind", "customers").output
    assert links(world, "add", "--kind", "clients", customer, company).exit_code == 1

    # the order upload uses the hand-made link: no search, no new counterparty
    order = place(
        world,
        {"status": "new", "customer": {"id": int(customer)}, "items": [{"offer": {"id": offer["id"]}, "quantity": 2}]},
    )
    counterparties = set(ms(world, "counterparty"))
    searches = list_reads(world)
    summary = upload(world)
    assert summary["created"] == 1 and summary["customers_found"] == 0 and summary["customers_created"] == 0
    uploaded = next(o for o in ms(world, "customerorder").values() if o.get("externalCode") == str(order["id"]) or
                    str(order["id"]) in str(o.get("name", "")) + str(o.get("externalCode", "")))  # fmt: skip
    assert ref(uploaded["agent"]) == company
    assert set(ms(world, "counterparty")) == counterparties
    assert list_reads(world) == searches, "no counterparty was searched for"

    removed = links(world, "remove", "--kind", "customers", customer)
    assert removed.exit_code == 0 and f"unlinked customer crm {customer} ⇄ ms {company}" in removed.output
    assert "0 customers linked" in links(world, "list", "--kind", "customers").output
    again = links(world, "remove", "--kind", "customers", customer)
    assert again.exit_code == 1 and "is linked to nothing" in again.output
