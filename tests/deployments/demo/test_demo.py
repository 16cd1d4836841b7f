"""``skladbridge demo`` as the README's first command runs it, on a small catalog: both full-import
runs, then a stock change that must reach the CRM through the webhook path, then an order from the
shop's site that must reach MoySklad and its state that must come back, each with its latency printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployments.demo import run_demo

pytestmark = pytest.mark.usefixtures("prefect_backend")


def test_the_demo_imports_then_carries_a_shipment_to_the_crm_through_the_webhook(tmp_path: Path) -> None:
    printed: list[str] = []
    result = run_demo(tmp_path / "demo", products=60, echo=printed.append)
    text = "\n".join(printed)

    assert result["crm"]["offers with stock"] > 0
    assert "upload batches sent to the CRM                0" in text  # the second run wrote nothing
    trip = result["webhook"]
    assert trip is not None and trip.seconds is not None, text
    assert trip.after == trip.before - 2 and trip.notices >= 1
    assert "== A stock change through the webhook path" in text
    assert f"the CRM showed {trip.after:g} (was {trip.before:g}) at msk {trip.seconds:.1f} s after the shipment" in text
    order = result["order"]  # an order from the shop's site reached MoySklad and its state came back, timed
    assert order is not None and order.erp_id and order.to_erp_seconds is not None, text
    assert order.back_seconds is not None and (order.state, order.status) == ("Подтвержден", "assembling"), text
    assert "== An order from the shop's site to MoySklad, and its state back" in text
    assert f"MoySklad had it {order.to_erp_seconds:.1f} s later" in text
    assert f"showed in the CRM as status 'assembling' {order.back_seconds:.1f} s later" in text
    assert "/feeds/demo/<path_secret>.xml" in text  # the feed URL is printed with its secret masked
    config = (tmp_path / "demo" / "skladbridge.yaml").read_text(encoding="utf-8")
    assert "${SKLADBRIDGE_DEMO_WEBHOOK_SECRET}" in config  # the written config keeps the token a reference
