"""`skladbridge demo --pair` and `sandbox serve --world horoshop`: the Horoshop pair is reachable from the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from deployments.cli import app
from deployments.demo.run import PAIRS, DemoError, run_pair


def test_an_unknown_pair_names_the_known_ones(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--pair", "bitrix", "--workdir", str(tmp_path)])
    assert result.exit_code == 1 and "horoshop" in result.output and "moysklad" in result.output
    with pytest.raises(DemoError, match="unknown pair"):
        run_pair("bitrix", tmp_path, 10)


def test_every_pair_names_a_demo_function() -> None:
    import importlib

    for target in PAIRS.values():
        module, _, function = target.partition(":")
        assert callable(getattr(importlib.import_module(module), function))


def test_the_horoshop_world_writes_a_config_that_loads(tmp_path: Path) -> None:
    from deployments.demo.horoshop_pair import INTEGRATION, horoshop_world
    from hub.config import load_config

    with horoshop_world(tmp_path, 5, orders=3) as world:
        config = load_config(world.config_path)
        integ = config.integrations[INTEGRATION]
        assert integ.edge("orders") is not None and integ.systems["shop"].system == "horoshop"
        assert world.env["SKLADBRIDGE_HS_PASSWORD"] not in world.config_path.read_text(encoding="utf-8")
        assert len(world.shop.orders) == 3
        from deployments.service.serve import published_feeds

        feeds, secrets = published_feeds(config)  # what `skladbridge feed serve` serves
        assert feeds[INTEGRATION] == world.workdir / "feeds" / f"{INTEGRATION}.xml"
        assert secrets[INTEGRATION] == world.env["SKLADBRIDGE_HS_FEED_SECRET"]


def test_sandbox_serve_world_horoshop_from_the_command_line(tmp_path: Path) -> None:
    """The printed exports reach a shop that signs the hub in and lists its orders; Ctrl-C stops it."""
    import os
    import re
    import signal
    import subprocess
    import sys
    import time

    import httpx

    repo = Path(__file__).resolve().parents[3]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SKLADBRIDGE_")}
    proc = subprocess.Popen(
        [
            *(sys.executable, "-u", "-m", "deployments.cli", "sandbox", "serve", "--world", "demo"),
            *("--pair", "horoshop", "--products", "20", "--workdir", str(tmp_path / "world")),
        ],
        cwd=repo,
        env=clean,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        printed: list[str] = []
        deadline = time.monotonic() + 60
        while not printed or not printed[-1].startswith("Then e.g.:"):
            assert proc.poll() is None and time.monotonic() < deadline, "\n".join(printed)
            printed.append((proc.stdout.readline() if proc.stdout else "").rstrip("\n"))
        exports = dict(re.findall(r"export (SKLADBRIDGE_HS_\w+)='([^']*)'", "\n".join(printed)))
        shop = exports["SKLADBRIDGE_HS_SHOP_URL"]
        token = httpx.post(
            f"{shop}/api/auth/", json={"login": "apiadmin", "password": exports["SKLADBRIDGE_HS_PASSWORD"]}
        ).json()["response"]["token"]
        listed = httpx.post(f"{shop}/api/orders/get/", json={"token": token, "limit": 100}).json()
        assert listed["status"] == "OK" and len(listed["response"]["orders"]) == 20
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=30)
