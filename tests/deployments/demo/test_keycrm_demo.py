"""`skladbridge demo --pair keycrm`: an unknown pair is one clear line; the keyCRM pair shows an order
and a stock change arriving, each timed."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from deployments.cli import app


def test_an_unknown_pair_is_named_with_the_known_ones() -> None:
    result = CliRunner().invoke(app, ["demo", "--pair", "bitrix"])
    assert result.exit_code == 1
    assert "unknown pair 'bitrix'" in result.output and "keycrm" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_backend")
def test_the_keycrm_pair_demo_times_an_order_and_a_stock_change(tmp_path: Path) -> None:
    from deployments.demo.keycrm_pair import ARRIVAL_SECONDS, run_keycrm_demo

    said: list[str] = []
    result = run_keycrm_demo(tmp_path / "demo", 60, said.append)
    assert result["order"].seconds is not None and result["order"].seconds < ARRIVAL_SECONDS
    assert result["stock"] is not None and result["stock"].seconds is not None
    text = "\n".join(said)
    assert "arrived in" in text and "did NOT arrive" not in text
