"""What the README says of commands, deployments, streams and webhook subscriptions is what they are."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from connectors.moysklad.capabilities.stock_events import ENTITY_EVENTS, WANTED
from deployments.cli import app
from hub.systems import STREAMS

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
NUMBERS = {6: "six", 7: "seven", 8: "eight", 9: "nine", 10: "ten"}


def row(command: str) -> str:
    """The README's command-table row of ``skladbridge <command>``."""
    found = re.search(rf"^\| `skladbridge {re.escape(command)}[ `\[].*$", README, flags=re.M)
    assert found, f"the README's command table has no row for `skladbridge {command}`"
    return found.group(0)


@pytest.mark.parametrize("command", ["demo", "queue list", "journal"])
def test_every_option_of_a_command_is_in_its_readme_row(command: str) -> None:
    cli: Any = typer.main.get_command(app)
    for name in command.split():
        cli = cli.get_command(cli.context_class(cli), name)  # typer may bring its own click: no isinstance
        assert cli is not None
    options = {opt for p in cli.params for opt in p.opts if opt.startswith("--")}
    missing = sorted(options - {"--config", "--help"} - set(re.findall(r"--[a-z-]+", row(command))))
    assert not missing, f"`skladbridge {command}` takes {missing}, which the README does not name"


def test_the_readme_counts_and_names_every_deployment_of_prefect_yaml() -> None:
    names = [d["name"] for d in yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))["deployments"]]
    assert f"`prefect.yaml` declares {NUMBERS[len(names)]} deployments" in README
    section = README.split("## Deploying with Prefect", 1)[1].split("```", 1)[0]
    assert all(f"`{name}`" in section for name in names)


def test_the_period_table_has_the_healthcheck() -> None:
    assert re.search(r"^\|[^\n]*`healthcheck/healthcheck`", README, flags=re.M)


def test_every_stream_a_config_accepts_is_named() -> None:
    streams = README.split("- **Streams**", 1)[1].split("\n- ", 1)[0]
    assert all(f"`{stream}`" in streams for stream in STREAMS)


def test_webhooks_register_says_what_it_subscribes() -> None:
    text = row("webhooks register")
    assert f"{len(WANTED)} subscriptions" in text
    assert all(f"`{entity}`" in text or entity == "customerorder" for entity, _ in ENTITY_EVENTS)
    assert "customer orders" in text and "created, edited and deleted" in text
