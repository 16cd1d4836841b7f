"""A console over a real hub store (SQLite) and a config with one integration and one login."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from deployments.console import console_app
from deployments.console.auth import hash_password
from hub.config import Config, parse_config
from hub.store import Store, open_store

PASSWORD = "correct horse battery"
#: the MoySklad password's value: it must never appear on a page
MS_SECRET = "ms-secret-value-7f3a"


def config_data(tmp: Path, **console: Any) -> dict[str, Any]:
    return {
        "database_url": f"sqlite:///{tmp / 'hub.db'}",
        "integrations": {
            "shop": {
                "systems": {
                    "ms": {
                        "system": "moysklad",
                        "base_url": "http://127.0.0.1:9/api/remap/1.2",
                        "login": "admin@shop",
                        "password": "${CONSOLE_TEST_MS_PASSWORD}",
                    },
                    "crm": {
                        "system": "retailcrm",
                        "base_url": "http://127.0.0.1:9",
                        "api_key": "${CONSOLE_TEST_CRM_KEY}",
                        "site": "shop",
                    },
                },
                "flows": {"orders": {"from": "crm", "to": "ms"}, "statuses": {"from": "ms", "to": "crm"}},
                "mappings": {"statuses": {"new": "Новый", "complete": "Отгружен"}},
            }
        },
        "console": {"users": {"alice": {"password_hash": hash_password(PASSWORD)}}, **console},
    }


@dataclass
class Console:
    client: TestClient
    config: Config
    store: Store

    def login(self, user: str = "alice", password: str = PASSWORD) -> Any:
        page = self.client.get("/console/login")
        return self.client.post(
            "/console/login",
            data={"user": user, "password": password, "csrf": csrf_of(page.text)},
            follow_redirects=False,
        )

    def csrf(self, path: str = "/console/") -> str:
        return csrf_of(self.client.get(path).text)


def csrf_of(html: str) -> str:
    marker = 'name="csrf" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def make_console(tmp: Path, monkeypatch: pytest.MonkeyPatch, **console: Any) -> Iterator[Console]:
    monkeypatch.setenv("CONSOLE_TEST_MS_PASSWORD", MS_SECRET)
    monkeypatch.setenv("CONSOLE_TEST_CRM_KEY", "crm-key-value-99c1")
    config = parse_config(config_data(tmp, **console), source=tmp / "skladbridge.yaml")
    store = open_store(config.effective_database_url())
    app = console_app(config, lambda: store)
    from starlette.applications import Starlette
    from starlette.routing import Mount

    base_url = "https://127.0.0.1" if console.get("behind_https") else "http://127.0.0.1"
    with TestClient(Starlette(routes=[Mount("/console", app=app)]), base_url=base_url) as client:
        yield Console(client, config, store)
    store.close()


@pytest.fixture
def console(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Console]:
    # no Prefect API, whatever another module of the session started
    monkeypatch.setattr("deployments.console.prefect_ops.api_url", lambda: None)
    yield from make_console(tmp_path, monkeypatch)
