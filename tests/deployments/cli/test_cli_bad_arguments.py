"""Every command of ``skladbridge``, given a bad argument or setting, says what to fix in a line and
exits non-zero, never with a traceback (issue 10). The table names every command: a command added
without a row here fails :func:`test_every_command_has_a_bad_argument_row`.

Each case fails before anything is served, imported from Prefect or sent: a busy port, a missing
file, an unknown integration, an edge the config lacks, a malformed date or URL.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from deployments.cli import app

runner = CliRunner()
CONFIG = """
database_url: sqlite:///{db}
integrations:
  main:
    systems:
      ms:  {{system: moysklad, base_url: "http://127.0.0.1:9/api/remap/1.2", token: "${{BAD_ARGS_MS_TOKEN}}"}}
      crm: {{system: retailcrm, base_url: "http://127.0.0.1:9", api_key: "${{BAD_ARGS_CRM_KEY}}"}}
    flows:
      stock: {{from: ms, to: crm}}
      catalog: {{from: ms, to: crm}}
"""
BAD_DB = "postgresql://nobody@127.0.0.1:9/none"  # port 9: nobody listens

#: command -> (arguments after it; {config}, {missing}, {busy} and {bad_db} filled in, what the line says)
CASES: dict[str, tuple[list[str], str]] = {
    "journal": (["-c", "{config}", "--level", "bogus"], "unknown level 'bogus'"),
    "demo": (["--products", "0"], "Invalid value for '--products'"),
    "deploy": (["-c", "{missing}"], "config file not found"),
    "serve": (["-c", "{config}", "--port", "{busy}"], "pick another --port"),
    "config check": (["-c", "{missing}"], "config file not found"),
    "db upgrade": (["-c", "{bad_db}"], "check database_url"),
    "queue list": (["-c", "{config}", "--status", "bogus"], "unknown status 'bogus'"),
    "queue show": (["999999", "-c", "{config}"], "no queue item 999999"),
    "queue retry": (["-c", "{config}"], "give an item id"),
    "run healthcheck": (["-c", "{missing}"], "config file not found"),
    "run full-import": (["--integration", "nope", "-c", "{config}"], "no integration 'nope'"),
    "run stock-sync": (["--integration", "nope", "-c", "{config}"], "no integration 'nope'"),
    "run order-upload": (["--integration", "main", "-c", "{config}"], "needs an orders edge"),
    "run archive-backfill": (
        ["--integration", "main", "--from", "2026-13-01", "--to", "2026-01-31", "-c", "{config}"],
        "2026-13-01 is not a date",
    ),
    "run order-status-sync": (["--integration", "main", "-c", "{config}"], "needs a statuses edge"),
    "run order-documents": (["--integration", "main", "-c", "{config}"], "needs an orders edge"),
    "run two-way-sync": (["--integration", "main", "-c", "{config}"], "needs an orders edge"),
    "sandbox serve": (["--world", "bogus"], "unknown world 'bogus'"),
    "feed serve": (["-c", "{config}", "--port", "{busy}"], "pick another --port"),
    "webhooks register": (
        ["--integration", "main", "--public-url", "ftp://hub", "-c", "{config}"],
        "must be an absolute http(s) URL",
    ),
    "webhooks register-changes": (
        ["--integration", "main", "--public-url", "ftp://hub", "-c", "{config}"],
        "must be an absolute http(s) URL",
    ),
    "webhooks list": (["--integration", "main", "-c", "{config}"], "set options.stock.webhook_secret"),
    "webhooks serve": (["-c", "{config}", "--port", "{busy}"], "set options.stock.webhook_secret"),
    "links add": (["a", "b", "--integration", "main", "--kind", "bogus", "-c", "{config}"], "unknown kind 'bogus'"),
    "links list": (["--integration", "nope", "--kind", "customers", "-c", "{config}"], "no such integration"),
    "links remove": (["x", "--integration", "main", "--kind", "widgets", "-c", "{config}"], "unknown kind 'widgets'"),
    "console hash-password": (["--password", "short"], "at least 10 characters"),
}


def leaf_commands() -> set[str]:
    found: set[str] = set()

    def walk(command: object, path: tuple[str, ...]) -> None:
        subcommands = getattr(command, "commands", None)
        if subcommands is None:
            found.add(" ".join(path))
            return
        for name, sub in subcommands.items():
            walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return found


def test_every_command_has_a_bad_argument_row() -> None:
    assert leaf_commands() == set(CASES)


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield int(taken.getsockname()[1])


@pytest.mark.parametrize("command", sorted(CASES))
def test_a_bad_argument_is_one_clear_line(
    command: str, tmp_path: Path, busy_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BAD_ARGS_MS_TOKEN", "bad-args-ms-token")
    monkeypatch.setenv("BAD_ARGS_CRM_KEY", "bad-args-crm-key")
    monkeypatch.chdir(tmp_path)  # demo or sandbox files, were a case to get that far, stay here
    config = tmp_path / "skladbridge.yaml"
    config.write_text(CONFIG.format(db=tmp_path / "hub.db"), encoding="utf-8")
    bad_db = tmp_path / "bad-db.yaml"
    bad_db.write_text(CONFIG.format(db="").replace("sqlite:///", BAD_DB), encoding="utf-8")
    args, needle = CASES[command]
    filled = [a.format(config=config, missing=tmp_path / "missing.yaml", busy=busy_port, bad_db=bad_db) for a in args]
    result = runner.invoke(app, [*command.split(), *filled])
    output = result.output
    assert result.exit_code in (1, 2), output  # 1: ours; 2: the option parser's usage error
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # an exit, not a crash
    assert "Traceback" not in output, output
    assert needle in " ".join(output.split()), output  # rich may wrap a usage error's box
    assert "bad-args-ms-token" not in output and "bad-args-crm-key" not in output
