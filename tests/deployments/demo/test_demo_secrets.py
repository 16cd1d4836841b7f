"""The demo's config and what `config check` prints of it hold no secret, the feed's path secret included."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deployments.cli import app
from deployments.demo import demo_world
from deployments.demo.world import demo_template

runner = CliRunner()


def test_config_check_of_the_demo_config_prints_no_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secrets = {
        "SKLADBRIDGE_DEMO_MS_PASSWORD": "ms-password-0123456789",
        "SKLADBRIDGE_DEMO_CRM_KEY": "crm-key-0123456789abcdef",
        "SKLADBRIDGE_DEMO_FEED_SECRET": "feed-path-secret-0123456789",
        "SKLADBRIDGE_DEMO_WEBHOOK_SECRET": "webhook-token-0123456789",
    }
    env = {
        **secrets,
        "SKLADBRIDGE_DEMO_DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}",
        "SKLADBRIDGE_DEMO_MS_URL": "http://127.0.0.1:3/api/remap/1.2",
        "SKLADBRIDGE_DEMO_CRM_URL": "http://127.0.0.1:4",
        # what the sandboxes export next to the others: the whole feed URL, secret inside
        "SKLADBRIDGE_DEMO_FEED_URL": "http://127.0.0.1:5/feeds/demo/feed-path-secret-0123456789.xml",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = runner.invoke(app, ["config", "check", "--config", str(demo_template())])
    assert result.exit_code == 0, result.output
    assert "${SKLADBRIDGE_DEMO_FEED_SECRET}" in result.output
    for value in secrets.values():
        assert value not in result.output


def test_the_config_the_demo_writes_holds_no_secret(tmp_path: Path) -> None:
    with demo_world(tmp_path, 5) as world:
        secrets = [
            os.environ[key]
            for key in (
                "SKLADBRIDGE_DEMO_MS_PASSWORD",
                "SKLADBRIDGE_DEMO_CRM_KEY",
                "SKLADBRIDGE_DEMO_FEED_SECRET",
                "SKLADBRIDGE_DEMO_WEBHOOK_SECRET",
            )
        ]
        written = world.config_path.read_text(encoding="utf-8")
        checked = runner.invoke(app, ["config", "check", "--config", str(world.config_path)])
    assert checked.exit_code == 0, checked.output
    for value in secrets:
        assert value not in written and value not in checked.output
    assert "${SKLADBRIDGE_DEMO_FEED_SECRET}" in written
