"""A connector's secrets are the settings fields it declares SecretRef, whatever their names.

A new system whose settings say ``access_token: SecretRef`` loads from a config with ``${ENV}``, is
refused with the secret written in the file, and is redacted wherever the config is shown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from deployments.cli import app
from hub.config import ConfigError, load_config, redacted_dump
from hub.systems import Connector, SecretRef, SystemSettings, register, secret_fields, unregister

TOKEN = "tok-0123456789-the-real-access-token"


class PortalSettings(SystemSettings):
    """A made-up portal: its credential is neither ``token``, ``password`` nor ``api_key``."""

    access_token: SecretRef
    client_secret: SecretRef | None = None
    shop: str = "main"


@asynccontextmanager
async def _client(settings: Any, secret: Any) -> AsyncIterator[None]:
    yield None


@pytest.fixture
def portal(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    register(Connector("made-up-portal", "Made-up Portal", PortalSettings, _client, {}))
    monkeypatch.setenv("PORTAL_TOKEN", TOKEN)
    yield
    unregister("made-up-portal")


def _config(tmp_path: Path, token: str) -> Path:
    path = tmp_path / "skladbridge.yaml"
    path.write_text(
        f"""
integrations:
  main:
    systems:
      portal: {{system: made-up-portal, base_url: "https://portal.example", access_token: "{token}"}}
""",
        encoding="utf-8",
    )
    return path


def test_the_secret_fields_are_the_ones_declared_secretref() -> None:
    assert secret_fields(PortalSettings) == {"access_token", "client_secret"}


def test_a_secret_of_its_own_name_loads_from_the_environment_and_stays_a_reference(
    portal: None, tmp_path: Path
) -> None:
    config = load_config(_config(tmp_path, "${PORTAL_TOKEN}"))
    settings = config.integration("main").systems["portal"]
    assert settings.access_token == "${PORTAL_TOKEN}"  # type: ignore[attr-defined]
    assert TOKEN not in repr(redacted_dump(config))


def test_the_secret_written_in_the_file_is_refused(portal: None, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(_config(tmp_path, TOKEN))
    said = [why for key, why in refused.value.problems if key == "integrations.main.systems.portal.access_token"]
    assert any("secrets must not be written in the file" in why for why in said), said
    assert TOKEN not in str(refused.value)


def test_config_check_prints_the_reference_never_the_secret(portal: None, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["config", "check", "--config", str(_config(tmp_path, "${PORTAL_TOKEN}"))])
    assert result.exit_code == 0, result.output
    assert "access_token: ${PORTAL_TOKEN}" in result.output and TOKEN not in result.output
