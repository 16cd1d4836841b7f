"""The command line as a merchant uses it: config check, db upgrade, queue, journal, healthcheck."""

from __future__ import annotations

import re
from pathlib import Path

import prefect.main  # noqa: F401 - Prefect's console handler keeps the stderr it was created with:
import pytest  # create it now, not inside one CliRunner invocation whose stream is closed afterwards
from typer.testing import CliRunner

from deployments.cli import app

CONFIG = """
database_url: sqlite:///{db}
integrations:
  main:
    systems:
      ms:  {{system: moysklad, token: "${{CLI_TEST_MS_TOKEN}}"}}
      crm: {{system: retailcrm, base_url: "https://demo.retailcrm.ru", api_key: "${{CLI_TEST_CRM_KEY}}"}}
    flows:
      catalog: {{from: ms, to: crm}}
"""
MS_TOKEN = "cli-ms-token-secret-value"
CRM_KEY = "cli-crm-key-secret-value"

runner = CliRunner()


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CLI_TEST_MS_TOKEN", MS_TOKEN)
    monkeypatch.setenv("CLI_TEST_CRM_KEY", CRM_KEY)
    path = tmp_path / "skladbridge.yaml"
    path.write_text(CONFIG.format(db=tmp_path / "hub.db"), encoding="utf-8")
    return path


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("config", "db", "queue", "journal", "run", "demo", "sandbox", "feed"):
        assert command in result.output


def test_config_check_prints_redacted_config(config: Path) -> None:
    result = runner.invoke(app, ["config", "check", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "${CLI_TEST_MS_TOKEN}" in result.output
    assert MS_TOKEN not in result.output and CRM_KEY not in result.output


def test_config_with_a_wrong_key_exits_1_naming_the_key_path(config: Path) -> None:
    config.write_text(config.read_text(encoding="utf-8").replace("flows:", "flow:"), encoding="utf-8")
    result = runner.invoke(app, ["config", "check", "--config", str(config)])
    assert result.exit_code == 1
    assert "integrations.main.flow" in result.output


def test_db_upgrade_queue_and_journal(config: Path) -> None:
    upgraded = runner.invoke(app, ["db", "upgrade", "--config", str(config)])
    assert upgraded.exit_code == 0, upgraded.output
    assert "sqlite store at revision" in upgraded.output

    from hub.config import load_config
    from tasks.hub_tasks import open_hub_store

    store = open_hub_store(load_config(config))
    item = store.queue.enqueue("main", "inventories", "k1", {"entries": []}, max_attempts=1)
    store.queue.claim(integration="main", kind="inventories")
    store.queue.fail(item.id, "retailcrm /store/inventories/upload (HTTP 400): bad offer", retryable=False)
    store.journal.write("main", "error", "full-import.failed", "full import failed: boom [/store] [bold] :x:")
    store.close()

    listed = runner.invoke(app, ["queue", "list", "--config", str(config), "--status", "dead"])
    assert listed.exit_code == 0 and "inventories" in listed.output and "dead=1" in listed.output
    header, row = listed.output.splitlines()[1:3]
    assert header.split() == ["id", "integration", "kind", "status", "tries", "last", "error"]
    assert row.split()[:5] == [str(item.id), "main", "inventories", "dead", "1/1"]
    assert row.rstrip().endswith("(HTTP 400): bad offer")  # whole, not wrapped at 80 columns
    shown = runner.invoke(app, ["queue", "show", str(item.id), "--config", str(config)])
    assert shown.exit_code == 0 and "bad offer" in shown.output
    retried = runner.invoke(app, ["queue", "retry", str(item.id), "--config", str(config)])
    assert retried.exit_code == 0 and "pending" in retried.output
    missing = runner.invoke(app, ["queue", "show", "999", "--config", str(config)])
    assert missing.exit_code == 1

    journal = runner.invoke(app, ["journal", "--config", str(config), "--level", "error"])
    assert journal.exit_code == 0 and "full import failed: boom [/store] [bold] :x:" in journal.output  # verbatim
    assert journal.output.splitlines()[0].split() == ["at", "level", "integration", "event", "message"]


@pytest.mark.usefixtures("prefect_backend")
def test_run_healthcheck(tmp_path: Path) -> None:
    """The healthcheck calls every system once: against the sandboxes, every one answers."""
    from deployments.demo import demo_world

    with demo_world(tmp_path / "demo", 20) as world:
        result = runner.invoke(app, ["run", "healthcheck", "--config", str(world.config_path)])
    assert result.exit_code == 0, result.output
    assert "schema revision" in result.output and "demo.crm (retailcrm)" in result.output


@pytest.mark.usefixtures("prefect_backend")
def test_run_full_import_on_the_sandboxes(tmp_path: Path) -> None:
    """The CLI's lock check before Prefect starts lets its own flow take the same locks right after."""
    from deployments.demo import DEMO_INTEGRATION, demo_world

    with demo_world(tmp_path / "demo", 30) as world:
        result = runner.invoke(
            app,
            [
                "run",
                "full-import",
                "--integration",
                DEMO_INTEGRATION,
                "--config",
                str(world.config_path),
                "--catalog-wait",
                "30",
            ],
        )
        # then a stock-sync cycle, as the README shows it: the full import sent everything already
        synced = runner.invoke(
            app, ["run", "stock-sync", "--integration", DEMO_INTEGRATION, "--config", str(world.config_path), "--full"]
        )
    assert result.exit_code == 0, result.output
    lines = {
        line.rsplit(":", 1)[0].strip(): line.rsplit(":", 1)[1].strip()
        for line in result.output.splitlines()
        if ":" in line
    }
    assert int(lines["inventories: offers sent"]) > 0 and int(lines["prices: offers sent"]) > 0
    assert synced.exit_code == 0, synced.output
    assert re.search(r"^\s*offers changed:\s+0\s*$", synced.output, re.M), synced.output
    assert re.search(r"^\s*read:\s+whole \(asked for\)\s*$", synced.output, re.M), synced.output


@pytest.mark.usefixtures("prefect_backend")
def test_a_run_whose_uploads_were_refused_exits_1_with_one_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connectors.http import ConnectorError
    from connectors.retailcrm.client import RetailCRMClient
    from deployments.demo import DEMO_INTEGRATION, demo_world

    async def refused(self: RetailCRMClient, offers: object, **kw: object) -> object:
        raise ConnectorError("retailcrm", "/store/inventories/upload", 400, "Site is not found")

    monkeypatch.setattr(RetailCRMClient, "upload_inventories", refused)
    with demo_world(tmp_path / "demo", 30) as world:
        result = runner.invoke(
            app,
            [
                "run",
                "full-import",
                "--integration",
                DEMO_INTEGRATION,
                "--config",
                str(world.config_path),
                "--catalog-wait",
                "30",
            ],
        )
    assert result.exit_code == 1
    assert "inventories: 1 batch not accepted (1 refused for good" in result.output


def test_a_configured_prefect_api_is_used_and_no_server_started() -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from deployments.schedule.prefect_server import GuardedServer, ensure_prefect_api

    with temporary_settings({PREFECT_API_URL: "http://prefect.example:4200/api"}):
        assert ensure_prefect_api() == "http://prefect.example:4200/api"
    assert not GuardedServer._instances
