"""A task repeats only what may pass: a wrong key or a closed port ends it at the first try, a 5xx
storm or a dropped connection gets the task's retries. Real tasks, real HTTP, real Prefect."""

from __future__ import annotations

import importlib
import pkgutil
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prefect import Task, task

from connectors.http import (
    AuthError,
    ConnectorError,
    NotFoundError,
    RequestValidationError,
    ServerError,
    TransientError,
    UnreachableError,
    request_stats,
)
from hub.config import parse_config
from hub.store import open_store
from tasks.catalog import extract as catalog_extract
from tasks.catalog.run import plan_catalog_run
from tasks.retrying import TRANSIENT_RETRIES, transient_only, worth_repeating

pytestmark = pytest.mark.usefixtures("prefect_backend")


class _Unauthorized(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"errors": [{"error": "authentication failed", "code": 1056}]}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def unauthorized() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Unauthorized)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/remap/1.2"
    server.shutdown()
    server.server_close()


def closed_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/api/remap/1.2"


def _run(tmp_path: Path, ms_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("RETRY_MS_TOKEN", "retry-ms-token")
    monkeypatch.setenv("RETRY_CRM_KEY", "retry-crm-key")
    config = parse_config(
        {
            "integrations": {
                "shop": {
                    "systems": {
                        "ms": {"system": "moysklad", "base_url": ms_url, "token": "${RETRY_MS_TOKEN}"},
                        "crm": {"system": "retailcrm", "base_url": closed_url(), "api_key": "${RETRY_CRM_KEY}"},
                    },
                    "flows": {"catalog": {"from": "ms", "to": "crm"}, "stock": {"from": "ms", "to": "crm"}},
                }
            }
        },
        source=tmp_path / "skladbridge.yaml",
    )
    store = open_store(f"sqlite:///{tmp_path / 'hub.db'}")
    return plan_catalog_run(config, "shop", store)


@pytest.mark.parametrize(("where", "error"), [("unauthorized", AuthError), ("closed", UnreachableError)])
def test_a_permanent_error_ends_the_task_at_the_first_try(
    where: str,
    error: type[ConnectorError],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    url = request.getfixturevalue("unauthorized") if where == "unauthorized" else closed_url()
    run = _run(tmp_path, url, monkeypatch)
    quick = catalog_extract.pull_stock.with_options(retry_delay_seconds=0)  # the same condition, no wait
    try:
        with pytest.raises(error):
            quick(run)
    finally:
        run.store.close()
    assert request_stats().total("moysklad").requests == 1  # before: 3 tries (x 6 attempts for a closed port)


def test_a_transient_fault_gets_the_task_retries() -> None:
    tries: list[int] = []

    @task(**{**TRANSIENT_RETRIES, "retry_delay_seconds": 0})
    def flaky() -> str:
        tries.append(1)
        if len(tries) < 3:
            raise ServerError("erp", "/entity/x", 503, "busy")
        return "done"

    assert flaky() == "done" and len(tries) == 3


def test_what_is_worth_repeating() -> None:
    assert worth_repeating(ServerError("s", "/e", 503, "busy"))
    assert worth_repeating(TransientError("s", "/e", None, "ReadTimeout"))
    assert worth_repeating(ConnectionResetError())
    assert not worth_repeating(AuthError("s", "/e", 401, "wrong key"))
    assert not worth_repeating(RequestValidationError("s", "/e", 422, "bad field"))
    assert not worth_repeating(NotFoundError("s", "/e", 404, "no such entity"))
    assert not worth_repeating(UnreachableError("s", "/e", None, "refused"))
    assert not worth_repeating(ValueError("bad data"))


def test_every_retried_task_repeats_transient_faults_only() -> None:
    import tasks

    modules = [importlib.import_module(m.name) for m in pkgutil.walk_packages(tasks.__path__, "tasks.")]
    retried = {
        id(obj): obj for module in modules for obj in vars(module).values() if isinstance(obj, Task) and obj.retries
    }.values()
    assert len(retried) >= 5
    assert all(t.retry_condition_fn is transient_only for t in retried), [t.name for t in retried]
