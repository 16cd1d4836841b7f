"""Errors a user can act on: every command, given a bad argument or setting, ends in exit code 1 and
one line naming the fix, never a traceback; ``--debug`` shows the traceback."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import prefect.main  # noqa: F401 - sets Prefect's logging up (see below)
import pytest
from typer.testing import CliRunner, Result

from deployments.cli import app

# Prefect's console handler keeps the stderr it was created with (importing prefect.main creates
# it): now, not inside a CliRunner invocation whose stream is closed afterwards
runner = CliRunner()
DB_PASSWORD = "db-password-not-to-print"
CONFIG = """
database_url: {database_url}
integrations:
  main:
    systems:
      ms:  {{system: moysklad, base_url: "{ms_url}", token: "${{ERR_TEST_MS_TOKEN}}"}}
      crm: {{system: retailcrm, base_url: "{crm_url}", api_key: "${{ERR_TEST_CRM_KEY}}"}}
    flows:
      stock: {{from: ms, to: crm}}
      catalog: {{from: ms, to: crm}}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def write_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ERR_TEST_MS_TOKEN", "err-ms-token-value")
    monkeypatch.setenv("ERR_TEST_CRM_KEY", "err-crm-key-value")

    def write(
        database_url: str | None = None, ms_url: str = "https://api.moysklad.ru/api/remap/1.2", text: str | None = None
    ) -> Path:
        path = tmp_path / "skladbridge.yaml"
        url = database_url or f"sqlite:///{tmp_path / 'hub.db'}"
        crm_url = f"http://127.0.0.1:{free_port()}"  # nobody listens: no network, no DNS in tests
        path.write_text(text or CONFIG.format(database_url=url, ms_url=ms_url, crm_url=crm_url), encoding="utf-8")
        return path

    return write


def assert_one_clear_failure(result: Result, *needles: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output, result.output
    for needle in needles:
        assert needle in result.output, result.output


def test_config_check_reports_every_problem_in_one_pass(write_config) -> None:  # type: ignore[no-untyped-def]
    text = (
        CONFIG.format(database_url="mysql://u@h/db", ms_url="https://x.example/api", crm_url="https://a.retailcrm.ru")
        .replace('token: "${ERR_TEST_MS_TOKEN}"', 'tokn: "${ERR_TEST_MS_TOKEN}"')
        .replace(
            "stock: {from: ms, to: crm}",
            "stock: {from: crm, to: ms}\n  other:\n    systems:\n"
            "      ms: {system: moysklad, token: '${ERR_TEST_MS_TOKEN}'}\n"
            "      crm: {system: retailcrm, base_url: 'https://a.retailcrm.ru', api_key: '${ERR_TEST_UNSET}'}\n"
            "    flows:\n      stock: {from: crm, to: crm}\n  third:\n    systems:\n      ms: {system: moysklad}",
        )
    )
    result = runner.invoke(app, ["config", "check", "--config", str(write_config(text=text))])
    assert_one_clear_failure(
        result,
        "integrations.other.systems.crm.api_key: environment variable ERR_TEST_UNSET is not set",
        "database_url: unknown scheme 'mysql'",
        "integrations.main.systems.ms.tokn: unknown key",
        "integrations.third.systems.ms: no credentials",
        "integrations.other.flows.stock.from: the retailcrm connector cannot read 'stock'",
    )


def test_config_check_redacts_the_database_password(write_config, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    inline = f"postgresql://hub:{DB_PASSWORD}@127.0.0.1:5432/hub"
    for database_url in (inline, "${ERR_TEST_DB_URL}"):
        monkeypatch.setenv("ERR_TEST_DB_URL", inline)
        result = runner.invoke(app, ["config", "check", "--config", str(write_config(database_url))])
        assert result.exit_code == 0, result.output
        assert DB_PASSWORD not in result.output and "postgresql://hub:***@127.0.0.1:5432/hub" in result.output


def test_global_config_option_and_flags_without_a_type(write_config) -> None:  # type: ignore[no-untyped-def]
    top = runner.invoke(app, ["--help"])
    assert "--config" in top.output and "--debug" in top.output and "<bool>" not in top.output
    assert "<bool>" not in runner.invoke(app, ["queue", "retry", "--help"]).output
    result = runner.invoke(app, ["--config", str(write_config()), "config", "check"])
    assert result.exit_code == 0 and "valid" in result.output


def test_db_upgrade_on_an_unreachable_database_names_database_url(write_config) -> None:  # type: ignore[no-untyped-def]
    config = write_config(f"postgresql://nobody:{DB_PASSWORD}@127.0.0.1:{free_port()}/hub")
    result = runner.invoke(app, ["db", "upgrade", "--config", str(config)])
    assert_one_clear_failure(result, "hub store: cannot open the database", "check database_url")
    assert DB_PASSWORD not in result.output
    debug = runner.invoke(app, ["--debug", "db", "upgrade", "--config", str(config)])
    assert debug.exit_code == 1 and "Traceback" in debug.output


def test_queue_commands_refuse_bad_arguments_in_one_line(write_config) -> None:  # type: ignore[no-untyped-def]
    config = str(write_config())
    assert_one_clear_failure(
        runner.invoke(app, ["queue", "list", "-c", config, "--status", "bogus"]), "unknown status 'bogus'", "failed"
    )
    assert_one_clear_failure(
        runner.invoke(app, ["queue", "show", "999", "-c", config]), "no queue item 999", "queue list"
    )
    assert_one_clear_failure(runner.invoke(app, ["queue", "retry", "-c", config]), "--dead")
    assert_one_clear_failure(runner.invoke(app, ["queue", "retry", "999", "-c", config]), "queue item 999")


def test_queue_list_failed_shows_pending_after_a_failure_and_dead(write_config) -> None:  # type: ignore[no-untyped-def]
    from hub.config import load_config
    from tasks.hub_tasks import open_hub_store

    config = write_config()
    store = open_hub_store(load_config(config))
    kinds = {}
    for kind in ("retried", "dead", "fresh", "done"):
        kinds[kind] = store.queue.enqueue("main", kind, kind, {}, max_attempts=1 if kind == "dead" else 5).id
        if kind != "fresh":
            store.queue.claim(integration="main", kind=kind)
    store.queue.fail(kinds["retried"], "retailcrm (HTTP 503): busy", retryable=True)
    store.queue.fail(kinds["dead"], "retailcrm (HTTP 400): bad offer", retryable=False)
    store.queue.complete(kinds["done"], {})
    store.close()
    result = runner.invoke(app, ["queue", "list", "-c", str(config), "--status", "failed"])
    assert result.exit_code == 0, result.output
    listed = {line.split()[2] for line in result.output.splitlines()[2:]}
    assert listed == {"retried", "dead"}


def test_journal_with_an_unknown_level(write_config) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["journal", "-c", str(write_config()), "--level", "bogus"])
    assert_one_clear_failure(result, "unknown level 'bogus'", "debug, info, warning, error")


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield int(taken.getsockname()[1])


def test_servers_on_a_busy_port(write_config, busy_port: int) -> None:  # type: ignore[no-untyped-def]
    for args in (
        ["sandbox", "serve", "retailcrm", "--port", str(busy_port)],
        ["feed", "serve", "-c", str(write_config()), "--port", str(busy_port)],
    ):
        assert_one_clear_failure(runner.invoke(app, args), f"127.0.0.1:{busy_port}", "pick another --port")
    assert_one_clear_failure(
        runner.invoke(app, ["sandbox", "serve", "bitrix"]), "moysklad, retailcrm, horoshop or keycrm"
    )


class _HtmlPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html><body>Welcome to nginx!</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _TruncatedJson(_HtmlPage):
    """A proxy that cut the answer short: JSON's start, the connection closed."""

    def do_GET(self) -> None:
        body = b'{"meta": {"size": 2}, "rows": [{"id": "'
        self.send_response(200)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.mark.usefixtures("prefect_backend")
def test_run_healthcheck_with_wrong_password_closed_port_and_html(tmp_path: Path, write_config) -> None:  # type: ignore[no-untyped-def]
    from deployments.demo import demo_world

    with demo_world(tmp_path / "demo", 10) as world:
        right = os.environ["SKLADBRIDGE_DEMO_MS_PASSWORD"]
        os.environ["SKLADBRIDGE_DEMO_MS_PASSWORD"] = "wrong-password"  # demo_world restores it
        result = runner.invoke(app, ["run", "healthcheck", "--config", str(world.config_path)])
        debug = runner.invoke(app, ["--debug", "run", "healthcheck", "--config", str(world.config_path)])
        os.environ["SKLADBRIDGE_DEMO_MS_PASSWORD"] = right
        os.environ["SKLADBRIDGE_DEMO_CRM_KEY"] = "wrong-crm-key"  # restored too
        wrong_key = runner.invoke(app, ["run", "healthcheck", "--config", str(world.config_path)])
    assert_one_clear_failure(result, "HTTP 401", "fix the credentials or base_url")
    assert_one_clear_failure(wrong_key, "demo.crm (retailcrm)", "HTTP 403", "fix the credentials or base_url")
    assert "demo.ms (moysklad)" not in wrong_key.output and "wrong-crm-key" not in wrong_key.output
    assert debug.exit_code == 1 and "Traceback" in debug.output
    assert "Encountered exception during execution" not in result.output  # the engine's traceback is off

    closed = write_config(ms_url=f"http://127.0.0.1:{free_port()}/api/remap/1.2")
    assert_one_clear_failure(
        runner.invoke(app, ["run", "healthcheck", "-c", str(closed)]),
        "main.ms (moysklad)",
        "fix the credentials or base_url",
    )

    for page in (_HtmlPage, _TruncatedJson):
        server = ThreadingHTTPServer(("127.0.0.1", 0), page)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            answering = write_config(ms_url=f"http://127.0.0.1:{server.server_address[1]}/api/remap/1.2")
            result = runner.invoke(app, ["run", "healthcheck", "-c", str(answering)])
        finally:
            server.shutdown()
        assert_one_clear_failure(result, "main.ms (moysklad)", "fix the credentials or base_url")


@pytest.mark.usefixtures("prefect_backend")
def test_run_full_import_refused_upload_and_wrong_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from connectors.http import ConnectorError
    from connectors.retailcrm.client import RetailCRMClient
    from deployments.demo import DEMO_INTEGRATION, demo_world

    with demo_world(tmp_path / "demo", 10) as world:
        os.environ["SKLADBRIDGE_DEMO_MS_PASSWORD"] = "wrong-password"
        args = ["run", "full-import", "--integration", DEMO_INTEGRATION, "--config", str(world.config_path)]
        wrong = runner.invoke(app, args)
    assert_one_clear_failure(wrong, "credentials refused", "fix token / login+password / api_key")

    async def refused(self: RetailCRMClient, offers: object, **kw: object) -> object:
        raise ConnectorError("retailcrm", "/store/inventories/upload", 400, "Site is not found")

    monkeypatch.setattr(RetailCRMClient, "upload_inventories", refused)
    with demo_world(tmp_path / "demo2", 10) as world:
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
    assert_one_clear_failure(result, "1 batch not accepted", "queue list --status failed")
    assert "Encountered exception during execution" not in result.output


def _postgres_url() -> str:
    """The test server's URL (``SKLADBRIDGE_TEST_POSTGRES_URL``); skipped without it, except under CI."""
    url = os.environ.get("SKLADBRIDGE_TEST_POSTGRES_URL")
    if not url:
        reason = "needs SKLADBRIDGE_TEST_POSTGRES_URL=postgresql://user@host:port/db"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must not skip it")
        pytest.skip(reason)
    return url


@pytest.mark.postgres
def test_a_postgres_role_that_does_not_exist_is_one_line_naming_database_url(write_config) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy.engine import make_url

    # the server answers, the role is unknown to it (not a closed port: that is another test)
    url = make_url(_postgres_url()).set(username="no_such_role_xyz", password=DB_PASSWORD)
    config = str(write_config(url.render_as_string(hide_password=False)))
    for args in (["db", "upgrade", "-c", config], ["queue", "list", "-c", config]):
        result = runner.invoke(app, args)
        assert_one_clear_failure(
            result,
            "hub store: cannot open the database",
            'role "no_such_role_xyz" does not exist',
            "check database_url",
        )
        assert len(result.output.strip().splitlines()) == 1, result.output
        assert DB_PASSWORD not in result.output


@pytest.mark.usefixtures("prefect_backend")
def test_a_missing_prefect_secret_block_is_one_line_saying_how_to_create_it(
    write_config, busy_port: int, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    import secrets

    block = f"skladbridge-missing-{secrets.token_hex(4)}"  # in no Prefect database
    text = CONFIG.format(
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        ms_url="https://api.moysklad.ru/api/remap/1.2",
        crm_url=f"http://127.0.0.1:{free_port()}",
    )
    config = write_config(text=f"{text}    options:\n      feed: {{path_secret: 'prefect-secret:{block}'}}\n")
    # feed serve resolves the feed's path secret at start, before it listens (and, were the secret
    # found, the busy port ends the command: the test cannot hang on a serving process)
    result = runner.invoke(app, ["feed", "serve", "-c", str(config), "--port", str(busy_port)])
    assert_one_clear_failure(
        result,
        f"prefect-secret:{block}",
        f"no Prefect Secret block named {block!r}",
        "prefect block create secret",
        f"Secret(value=...).save({block!r})",
    )
    assert "fix the config" not in result.output  # the file is right; the block is what is missing
    problem = [line for line in result.output.splitlines() if block in line]
    assert len(problem) == 1, result.output


def test_a_shared_budget_redis_that_does_not_answer_is_one_line(write_config, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ERR_TEST_HOOK", "err-hook-token-0123456789")
    monkeypatch.setenv("SKLADBRIDGE_REDIS_URL", f"redis://:redis-pass-not-to-print@127.0.0.1:{free_port()}/0")
    ms_url = f"http://127.0.0.1:{free_port()}/api/remap/1.2"
    text = CONFIG.format(
        database_url=f"sqlite:///{write_config().parent / 'hub.db'}",
        ms_url=ms_url,
        crm_url=f"http://127.0.0.1:{free_port()}",
    )
    config = write_config(text=text + "    options:\n      stock: {webhook_secret: '${ERR_TEST_HOOK}'}\n")
    from connectors.http.budgets import forget_budgets

    forget_budgets()  # a budget made earlier in this process would be reused without asking Redis
    try:
        result = runner.invoke(app, ["webhooks", "list", "-c", str(config), "--integration", "main"])
    finally:
        forget_budgets()
    assert_one_clear_failure(result, "SKLADBRIDGE_REDIS_URL", "Redis does not answer", "start Redis there")
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert "redis-pass-not-to-print" not in result.output


def test_config_check_names_the_postgres_extra_when_the_driver_is_missing(
    write_config, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    import sys

    monkeypatch.setitem(sys.modules, "psycopg", None)  # as on an install without the [postgres] extra
    config = str(write_config("postgresql://hub@127.0.0.1:5432/hub"))
    for args in (["config", "check", "-c", config], ["queue", "list", "-c", config]):
        result = runner.invoke(app, args)
        assert_one_clear_failure(
            result,
            "database_url: the PostgreSQL driver psycopg is not installed",
            "pip install 'skladbridge[postgres]'",
        )
        assert "ModuleNotFoundError" not in result.output


def test_a_sqlite_path_in_a_missing_folder_is_refused_until_db_upgrade(write_config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    database = tmp_path / "typo" / "dir" / "x.db"
    config = str(write_config(f"sqlite:///{database}"))
    for args in (["queue", "list", "-c", config], ["journal", "-c", config]):
        assert_one_clear_failure(
            runner.invoke(app, args),
            f"the folder {database.parent} of the SQLite database",
            "fix database_url",
            "skladbridge db upgrade",
        )
    assert not database.parent.exists()  # no empty hub that looks healthy
    upgraded = runner.invoke(app, ["db", "upgrade", "-c", config])
    assert upgraded.exit_code == 0 and "sqlite store at revision" in upgraded.output, upgraded.output
    assert database.exists()
    assert runner.invoke(app, ["queue", "list", "-c", config]).exit_code == 0


def test_the_engine_failing_to_reach_prefect_says_what_to_do() -> None:
    from deployments.cli.common import explain

    line = explain(RuntimeError("Failed to reach API at http://127.0.0.1:9/api"))
    assert line.startswith("Prefect: Failed to reach API at http://127.0.0.1:9/api; ")
    assert "prefect server start" in line and "unset PREFECT_API_URL" in line


@pytest.mark.parametrize(
    "args",
    [
        ["run", "full-import"],  # a required option missing
        ["queue", "list", "--bogus"],  # an unknown option
        ["bogus"],  # an unknown command
        ["--bogus", "config", "check"],  # an unknown global option
        ["queue", "list", "--limit", "many"],  # a value of the wrong type
        ["queue"],  # a group without its command
    ],
)
def test_usage_errors_exit_1_like_every_other_error(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and ("Usage:" in result.output or "Error" in result.output)
