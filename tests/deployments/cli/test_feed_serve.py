"""``skladbridge feed serve`` as a merchant runs it: the secret from the config, nothing public by mistake."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from connectors.retailcrm.convert.icml import IcmlOffer, write_icml
from deployments.cli import app
from tests.deployments.cli.test_cli_errors import assert_one_clear_failure, free_port

runner = CliRunner()
SECRET = "feed-path-secret-of-32-characters"
CONFIG = """
database_url: sqlite:///{tmp}/hub.db
integrations:
  shop:
    systems:
      ms:  {{system: moysklad, base_url: "http://127.0.0.1:1/api/remap/1.2", token: "${{FEED_TEST_MS_TOKEN}}"}}
      crm: {{system: retailcrm, base_url: "http://127.0.0.1:2", api_key: "${{FEED_TEST_CRM_KEY}}"}}
    flows:
      catalog: {{from: ms, to: crm}}
    options:
      feed: {{dir: feeds{secret}}}
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.setenv("FEED_TEST_MS_TOKEN", "ms-token")
    monkeypatch.setenv("FEED_TEST_CRM_KEY", "crm-key")
    monkeypatch.setenv("FEED_TEST_SECRET", SECRET)

    def write(secret: str | None = "${FEED_TEST_SECRET}") -> Path:
        path = tmp_path / "skladbridge.yaml"
        line = f', path_secret: "{secret}"' if secret else ""
        path.write_text(CONFIG.format(tmp=tmp_path, secret=line), encoding="utf-8")
        return path

    yield write


def test_a_feed_without_a_secret_is_not_served_on_a_reachable_interface(config) -> None:  # type: ignore[no-untyped-def]
    path = config(secret=None)
    result = runner.invoke(app, ["feed", "serve", "-c", str(path), "--host", "0.0.0.0", "--port", str(free_port())])
    assert_one_clear_failure(result, "shop: no feed secret (options.feed.path_secret)", "purchase prices")


def test_the_secret_is_a_reference_never_a_value_in_the_file(config) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["feed", "serve", "-c", str(config(secret=SECRET))])
    assert_one_clear_failure(result, "integrations.shop.options.feed.path_secret", "must not be written in the file")
    assert SECRET not in result.output


def test_an_unset_secret_variable_is_named(config, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("FEED_TEST_SECRET")
    result = runner.invoke(app, ["feed", "serve", "-c", str(config())])
    assert_one_clear_failure(result, "FEED_TEST_SECRET")


def test_a_short_secret_is_refused(config, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FEED_TEST_SECRET", "short")
    result = runner.invoke(app, ["feed", "serve", "-c", str(config()), "--port", str(free_port())])
    assert_one_clear_failure(result, "shorter than 16 characters")


def test_the_served_feed_answers_only_at_its_secret_url(config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = config()
    (tmp_path / "feeds").mkdir()
    write_icml(
        tmp_path / "feeds" / "shop.xml",
        shop_name="Shop",
        company="Co",
        categories=[],
        offers=[IcmlOffer(id="o1", product_id="p1", name="Товар", product_name="Товар")],
    )
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "deployments.cli", "feed", "serve", "-c", str(path), "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.get(f"{base}/feeds/shop/{SECRET}.xml", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, "feed server did not start"
                time.sleep(0.2)
        assert answer.status_code == 200 and b'<offer id="o1"' in answer.content
        refusals = [
            httpx.get(f"{base}{url}", timeout=2)
            for url in ("/feeds/shop/wrong-secret-of-32-characters.xml", "/feeds/shop.xml", "/feeds/nope/x.xml", "/")
        ]
        assert {(r.status_code, r.text) for r in refusals} == {(404, "not found\n")}
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=20)
    assert "/feeds/shop/<path_secret>.xml" in output
    assert SECRET not in output


def test_a_secret_with_a_slash_is_refused_at_start_not_served_where_nothing_reaches(  # type: ignore[no-untyped-def]
    config, monkeypatch: pytest.MonkeyPatch
) -> None:
    slashed = "feed-path/secret-of-32-characters"
    monkeypatch.setenv("FEED_TEST_SECRET", slashed)
    # a process: the old behaviour was to serve (until killed), not to return
    try:
        done = subprocess.run(
            [sys.executable, "-m", "deployments.cli", "feed", "serve", "-c", str(config()), "--port", str(free_port())],
            env=dict(os.environ),
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("feed serve started serving a feed whose secret no request can match")
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "shop (options.feed.path_secret) holds a character that cannot stand in a URL path segment" in output
    assert "Traceback" not in output and slashed not in output and len(output.strip().splitlines()) == 1
