"""`sandbox serve --world demo` as a user meets it: the demo's world, a CRM with offers, a usable config."""

from __future__ import annotations

import asyncio
import os
import queue
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.retailcrm.client import RetailCRMClient
from deployments.demo.world import DEMO_INTEGRATION, World, served_world
from hub.config import load_config

PRODUCTS = 60


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with served_world(tmp_path_factory.mktemp("world"), PRODUCTS) as running:
        yield running


def test_a_client_listing_offers_finds_the_catalog_the_crm_loaded_from_the_feed(world: World) -> None:
    async def listed() -> list[dict[str, Any]]:
        async with RetailCRMClient(
            world.env["SKLADBRIDGE_DEMO_CRM_URL"], api_key=world.env["SKLADBRIDGE_DEMO_CRM_KEY"], site=DEMO_INTEGRATION
        ) as client:
            return [offer async for page in client.iter_offers() for offer in page]

    offers = asyncio.run(listed())
    assert offers and len(offers) == world.offers_loaded
    ms_ids = {*world.moysklad.store.entities["product"], *world.moysklad.store.entities["variant"]}
    assert {offer["xmlId"] for offer in offers} <= ms_ids
    site = world.retailcrm.state.sites[DEMO_INTEGRATION]
    assert site["ymlUrl"] == world.feed_url and site["loadFromYml"]


def test_the_feed_url_is_secret_and_the_bare_path_is_refused(world: World) -> None:
    assert httpx.get(world.feed_url).status_code == 200
    base = world.feed_url.split("/feeds/")[0]
    assert httpx.get(f"{base}/feeds/{DEMO_INTEGRATION}.xml").status_code == 404


def test_the_written_config_loads_with_the_printed_exports(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    assert world.config_path is not None
    text = world.config_path.read_text(encoding="utf-8")
    assert world.env["SKLADBRIDGE_DEMO_CRM_KEY"] not in text and "${SKLADBRIDGE_DEMO_CRM_KEY}" in text
    for line in world.exports:
        name, _, value = line.removeprefix("export ").partition("=")
        monkeypatch.setenv(name, shlex.split(value)[0])
    config = load_config(None)  # from $SKLADBRIDGE_CONFIG, as the CLI finds it
    systems = config.integrations[DEMO_INTEGRATION].systems
    assert str(systems["crm"].base_url).rstrip("/") == world.env["SKLADBRIDGE_DEMO_CRM_URL"]


def test_the_shops_site_has_its_own_key_to_create_orders_the_hub_then_reads(world: World) -> None:
    hub_key = world.env["SKLADBRIDGE_DEMO_CRM_KEY"]
    offer = next(iter(world.retailcrm.offers.values()))

    async def site_module() -> dict[str, Any]:
        async with RetailCRMClient(world.env["SKLADBRIDGE_DEMO_CRM_URL"], api_key=world.site_key) as client:
            return await client.create_order(
                {"status": "new", "items": [{"offer": {"xmlId": offer["xmlId"]}}]}, site=DEMO_INTEGRATION
            )

    placed = asyncio.run(site_module())
    assert world.site_key and world.site_key != hub_key and world.retailcrm.orders[placed["id"]]["site"] == "demo"
    record = world.retailcrm.history[-1].render("order", hub_key)  # as the hub reads its history
    assert record["created"] and record["source"] == "api" and record["apiKey"] == {"current": False}


def test_moysklad_has_the_demos_four_stores(world: World) -> None:
    names = sorted(store["name"] for store in world.moysklad.store.entities["store"].values())
    assert names == ["Основной склад", "Склад 2", "Склад 3", "Склад 4"]


def test_config_path_is_in_the_workdir(world: World) -> None:
    assert world.config_path == world.workdir / "skladbridge.yaml" and Path(world.feed_path).exists()


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc)."""
    children: dict[int, set[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), set()).add(int(stat.parent.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), set()) - found:
            found.add(child)
            todo.append(child)
    return found


def _refused(url: str) -> bool:
    try:
        httpx.get(url, timeout=2)
    except httpx.TransportError:
        return True
    return False


def test_sandbox_serve_world_demo_from_the_command_line(tmp_path: Path) -> None:
    """As a user runs it: the printed exports make the printed config pass `config check`, the CRM
    lists the loaded catalog, and Ctrl-C stops everything within seconds."""
    repo = Path(__file__).resolve().parents[3]
    demo_vars = set(re.findall(r"\$\{(SKLADBRIDGE_DEMO_\w+)\}", (repo / "examples" / "demo.yaml").read_text("utf-8")))
    assert "SKLADBRIDGE_DEMO_FEED_SECRET" in demo_vars
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SKLADBRIDGE_")}
    workdir = tmp_path / "world"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-u",
            "-m",
            "deployments.cli",
            "sandbox",
            "serve",
            "--world",
            "demo",
            "--products",
            "50",
            "--workdir",
            str(workdir),
        ],
        cwd=tmp_path,
        env=clean,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in proc.stdout or ():
            lines.put(line.rstrip("\n"))

    threading.Thread(target=read, daemon=True).start()
    try:
        printed: list[str] = []
        deadline = time.monotonic() + 30
        while not printed or not printed[-1].startswith("Then e.g.:"):
            assert proc.poll() is None and time.monotonic() < deadline, "\n".join(printed)
            try:
                printed.append(lines.get(timeout=0.5))
            except queue.Empty:
                pass
        text = "\n".join(printed)
        exports = dict(
            line.strip().removeprefix("export ").split("=", 1) for line in printed if line.strip().startswith("export ")
        )
        env = {name: shlex.split(value)[0] for name, value in exports.items()}
        assert demo_vars <= set(env), text
        assert f"MoySklad sandbox:  {env['SKLADBRIDGE_DEMO_MS_URL']}  (50 products" in text
        crm_line = next(line for line in printed if line.startswith("retailCRM sandbox: "))
        assert crm_line.startswith(f"retailCRM sandbox: {env['SKLADBRIDGE_DEMO_CRM_URL']}  (site demo, ")
        loaded = int(re.search(r"(\d+) offers loaded", crm_line).group(1))  # type: ignore[union-attr]
        feed_path = workdir / "feeds" / "demo.xml"
        assert f"feed:              {feed_path}" in text
        assert "SKLADBRIDGE_DEMO_CRM_SITE_KEY" in exports  # the shop site's key, and the manager's admin path
        assert f"{env['SKLADBRIDGE_DEMO_CRM_URL']}/sandbox/orders/create" in text
        assert env["SKLADBRIDGE_DEMO_FEED_URL"].endswith(f"/feeds/demo/{env['SKLADBRIDGE_DEMO_FEED_SECRET']}.xml")
        assert httpx.get(env["SKLADBRIDGE_DEMO_FEED_URL"], timeout=10).status_code == 200

        check = subprocess.run(
            [sys.executable, "-m", "deployments.cli", "config", "check"],
            cwd=tmp_path,
            env={**clean, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        assert f"{env['SKLADBRIDGE_CONFIG']}: valid" in check.stdout
        assert env["SKLADBRIDGE_DEMO_CRM_KEY"] not in check.stdout

        answer = httpx.get(
            f"{env['SKLADBRIDGE_DEMO_CRM_URL']}/api/v5/store/offers",
            params={"apiKey": env["SKLADBRIDGE_DEMO_CRM_KEY"], "limit": 100},
            timeout=10,
        ).json()
        feed_ids = set(re.findall(r'<offer id="([^"]+)"', feed_path.read_text("utf-8")))
        assert 0 < loaded == answer["pagination"]["totalCount"] == len(answer["offers"]) == len(feed_ids)
        assert {offer["xmlId"] for offer in answer["offers"]} == feed_ids

        below = _descendants(proc.pid)
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert not [pid for pid in below if Path(f"/proc/{pid}").exists()]
    for url in (env["SKLADBRIDGE_DEMO_CRM_URL"], env["SKLADBRIDGE_DEMO_FEED_URL"], env["SKLADBRIDGE_DEMO_MS_URL"]):
        assert _refused(url), f"{url} still answers after the world stopped"
