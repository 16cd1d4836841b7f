"""Chaos run of the order lifecycle's documents (issue 25): create → ship → pay → cancel → return for
``SKLADBRIDGE_CHAOS_DOCUMENT_ORDERS`` orders (default 200) through sandboxes that fault about 10 % of
requests, the documents run killed with SIGKILL once it made some shipments.

Orders with a card payment each are placed in the retailCRM sandbox and uploaded; every order then
reaches the shipment status and about half their payments are paid; the documents flow runs in a
subprocess and is killed mid-run, then runs again (faults on) until a cycle has nothing to do; then
every order is cancelled and the documents flow makes the returns. Checked: every order exactly one
shipment (its lines the MoySklad order's), one payment document (posted as its payment's status), one
return per shipment; the cost prices on every CRM line; the stock each store had before the shipments
back after the returns. It prints the counts and the requests and faults met.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.sandboxing import FaultPlan
from deployments.demo import DemoWorld, demo_world
from tests.e2e.test_full_import import run_import
from tests.e2e.test_orders_chaos import cli_env, faults, upload_until_done

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_backend")]

REPO = Path(__file__).resolve().parents[2]
ORDERS = int(os.environ.get("SKLADBRIDGE_CHAOS_DOCUMENT_ORDERS") or 200)
MAX_CYCLES = 12


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoWorld]:
    with demo_world(tmp_path_factory.mktemp("documents-chaos"), 40) as running:
        config = yaml.safe_load(running.config_path.read_text(encoding="utf-8"))
        demo = config["integrations"]["demo"]
        demo["flows"]["orders"] = {"from": "crm", "to": "ms"}
        demo["mappings"].update(
            {
                "order_stores": {"msk": "Основной склад"},
                "delivery_types": {"self-delivery": None},
                "payment_documents": {"bank-card": "bank"},
            }
        )
        demo["options"]["documents"] = {
            "shipment_statuses": ["send-to-delivery"],
            "shipment_cancel_statuses": ["cancel-other"],
        }
        running.config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        run_import(running)
        yield running


def ms(world: DemoWorld, kind: str) -> dict[str, dict[str, Any]]:
    return dict(world.moysklad.store.of_type(kind))


def ref(value: dict[str, Any] | None) -> str | None:
    return None if not value else str(value["meta"]["href"]).rsplit("/", 1)[1]


def documents_until_done(world: DemoWorld) -> list[dict[str, Any]]:
    """Documents cycles (faults on) until one makes, updates and is refused nothing."""
    from flows.order_documents import order_documents

    cycles: list[dict[str, Any]] = []
    for _ in range(MAX_CYCLES):
        try:
            s = order_documents("demo", config_path=str(world.config_path), trigger="test")
        except Exception as exc:  # a failed cycle (a refusal, a fault that outlasted the retries)
            cycles.append({"error": f"{type(exc).__name__}: {exc}"[:300]})
            time.sleep(1)
            continue
        cycles.append({k: s.get(k) for k in ("looked_at", "made", "updated", "adopted", "cost_prices_set", "settled")})
        if not s.get("made") and not s.get("updated") and not s.get("refused"):
            return cycles
    raise AssertionError(f"the documents did not settle in {MAX_CYCLES} cycles: {cycles}")


def kill_mid_run(world: DemoWorld, log: Path) -> int:
    """Run the documents flow in a subprocess and SIGKILL it once MoySklad holds a shipment it made;
    returns the shipments there at the kill (a run that failed before making one is started again)."""
    code = (
        "import sys; from flows.order_documents import order_documents; "
        "order_documents('demo', config_path=sys.argv[1], trigger='chaos')"
    )
    demands = world.moysklad.store.of_type("demand")
    for _ in range(5):
        with log.open("a", encoding="utf-8") as out:
            proc = subprocess.Popen(
                [sys.executable, "-c", code, str(world.config_path)],
                cwd=REPO,
                env=cli_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            while proc.poll() is None:
                if demands:
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait(30)
                    return len(demands)
                time.sleep(0.002)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)
        if demands:
            return len(demands)
    raise AssertionError(f"no documents run made a shipment:\n{log.read_text()[-3000:]}")


def test_every_document_exactly_once_through_faults_and_a_kill(world: DemoWorld, tmp_path: Path) -> None:
    from flows.order_upload import order_upload

    started, rng = time.monotonic(), random.Random(25)
    order_upload("demo", config_path=str(world.config_path), trigger="test")  # the cursor
    crm = world.retailcrm
    live = set(ms(world, "product"))
    offers = sorted((o for o in crm.offers.values() if o.get("xmlId") in live), key=lambda o: o["id"])
    placed: dict[int, dict[str, Any]] = {}
    payments: dict[int, int] = {}
    for n in range(ORDERS):
        order = crm.place_order(
            {
                "status": "new",
                "firstName": f"Имя{n}",
                "phone": f"+7999{n:07d}",
                "shipmentStore": "msk",
                "items": [
                    {"offer": {"id": o["id"]}, "quantity": rng.randint(1, 3), "initialPrice": rng.randint(10, 999)}
                    for o in rng.sample(offers, rng.randint(1, 2))
                ],
            }
        )
        placed[order["id"]] = order
        payments[order["id"]] = crm.user_add_payment(
            order["id"], {"type": "bank-card", "amount": float(order["totalSumm"]), "status": "not-paid"}
        )
    ms_faults, crm_faults = faults(3), faults(4)
    world.moysklad.faults, world.retailcrm.faults = ms_faults, crm_faults
    world.moysklad.log.clear()
    world.retailcrm.log.clear()
    phases: dict[str, float] = {}

    def phase(name: str) -> None:
        phases[name] = time.monotonic() - started - sum(phases.values())

    upload_until_done(world)
    phase("create")
    ledger = world.moysklad.ledger.totals
    stock_before = {key: m["stock"] for key, m in ledger.items()}
    paid = set(rng.sample(sorted(placed), ORDERS // 2))
    for oid in placed:
        crm.user_edit_order(oid, {"status": "send-to-delivery"})
        if oid in paid:
            crm.user_edit_payment(payments[oid], {"status": "paid"})
    upload_until_done(world)
    phase("ship and pay: upload")
    at_kill = kill_mid_run(world, tmp_path / "killed-run.log")
    phase("killed run")
    shipping = documents_until_done(world)
    phase("ship and pay: documents")

    erp = {o["externalCode"]: o for o in ms(world, "customerorder").values() if int(o["externalCode"]) in placed}
    assert len(erp) == ORDERS
    shipments = Counter(ref(d.get("customerOrder")) for d in ms(world, "demand").values())
    keys = Counter(d.get("externalCode") for d in ms(world, "demand").values())
    assert all(shipments[o["id"]] == 1 for o in erp.values()), [c for c, o in erp.items() if shipments[o["id"]] != 1]
    assert all(n == 1 for n in keys.values())
    by_order = {ref(d["customerOrder"]): d for d in ms(world, "demand").values()}
    for o in erp.values():
        lines = sorted((ref(p["assortment"]), p["quantity"], p["price"]) for p in by_order[o["id"]]["_positions"])
        assert lines == sorted((ref(p["assortment"]), p["quantity"], p["price"]) for p in o["_positions"])
    bank = [p for p in ms(world, "paymentin").values() if str(p.get("externalCode", "")).startswith("demo:")]
    by_key = Counter(p["externalCode"] for p in bank)
    assert len(bank) == len(by_key) == ORDERS
    for p in bank:
        oid = int(p["externalCode"].split(":")[1])
        assert p["applicable"] is (oid in paid) and p["sum"] == round(placed[oid]["totalSumm"] * 100)
    costless = [(oid, i["id"]) for oid in placed for i in crm.orders[oid]["items"] if not i.get("purchasePrice")]
    assert not costless, costless[:10]

    for oid in placed:
        crm.user_edit_order(oid, {"status": "cancel-other"})
    upload_until_done(world)
    returning = documents_until_done(world)
    phase("cancel and return")
    returns = Counter(ref(r.get("demand")) for r in ms(world, "salesreturn").values())
    assert len(returns) == ORDERS and all(returns[d] == 1 for d in by_order.values() for d in [d["id"]])
    moved = {key: m["stock"] for key, m in ledger.items() if m["stock"] != stock_before.get(key, 0.0)}
    assert not moved, list(moved.items())[:10]  # every shipped unit came back

    statuses = Counter(r.status for r in [*world.moysklad.log, *world.retailcrm.log])
    faulted = statuses[0] + statuses[429] + statuses[500] + statuses[503]
    world.moysklad.faults, world.retailcrm.faults = FaultPlan(), FaultPlan()
    print(
        f"\ndocuments chaos: {ORDERS} orders; killed with {at_kill} shipments made; documents cycles after the kill "
        f"{shipping}; return cycles {returning}\n  checked: {len(by_order)} shipments once with the order's lines, "
        f"{len(bank)} payments once (posted as paid), {sum(returns.values())} returns one per shipment, cost prices "
        f"on every CRM line, stock back\n  requests {statuses.total()}, faulted {faulted} "
        f"({faulted / statuses.total():.1%}): ms {dict(ms_faults.fired)}, crm {dict(crm_faults.fired)}; "
        f"{time.monotonic() - started:.1f} s ({', '.join(f'{k} {v:.1f} s' for k, v in phases.items())})"
    )
    assert faulted >= 0.05 * statuses.total(), statuses
