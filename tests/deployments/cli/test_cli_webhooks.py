"""``skladbridge webhooks`` as a merchant runs it: subscriptions made once, the token never printed."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.moysklad.sandbox import API_PREFIX, MoySkladSandbox
from connectors.sandboxing import LoopbackServer
from deployments.cli import app
from tests.deployments.cli.test_cli_errors import assert_one_clear_failure, free_port

runner = CliRunner()
TOKEN = "cli-webhook-token-0123456789abcdef"
PUBLIC = "https://hub.example.com/sklad"
CONFIG = """
database_url: sqlite:///{tmp}/hub.db
integrations:
  shop:
    systems:
      ms:  {{system: moysklad, base_url: "{ms_url}", token: "${{CLI_WH_MS_TOKEN}}", token_kind: app}}
      crm: {{system: retailcrm, base_url: "http://127.0.0.1:1", api_key: "${{CLI_WH_CRM_KEY}}"}}
    flows:
      stock: {{from: ms, to: crm}}
    options:
      stock: {{{options}}}
"""


@pytest.fixture
def sandbox() -> Iterator[tuple[MoySkladSandbox, str]]:
    sb = MoySkladSandbox(token="cli-ms-token", token_kind="app")
    with LoopbackServer(sb.app) as server:
        yield sb, server.url + API_PREFIX


@pytest.fixture
def config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox: tuple[MoySkladSandbox, str]
) -> Callable[..., Path]:
    monkeypatch.setenv("CLI_WH_MS_TOKEN", "cli-ms-token")
    monkeypatch.setenv("CLI_WH_CRM_KEY", "crm-key")
    monkeypatch.setenv("CLI_WH_TOKEN", TOKEN)

    def write(options: str = 'webhook_secret: "${CLI_WH_TOKEN}"') -> Path:
        path = tmp_path / "skladbridge.yaml"
        path.write_text(CONFIG.format(tmp=tmp_path, ms_url=sandbox[1], options=options), encoding="utf-8")
        return path

    return write


def webhooks(*args: str) -> list[str]:
    return ["webhooks", *args]


def test_register_twice_subscribes_once_and_never_prints_the_token(
    config: Callable[..., Path], sandbox: tuple[MoySkladSandbox, str]
) -> None:
    path = str(config())
    first = runner.invoke(app, webhooks("register", "-c", path, "--integration", "shop", "--public-url", PUBLIC))
    second = runner.invoke(app, webhooks("register", "-c", path, "--integration", "shop", "--public-url", PUBLIC))
    assert first.exit_code == 0, first.output
    assert f"notifies {PUBLIC}/hooks/moysklad/shop/<token>" in first.output
    assert "created stock report bystore" in first.output and first.output.count("created") == 25
    assert "kept 25 already in place" in second.output and "created" not in second.output
    assert TOKEN not in first.output + second.output
    urls = {str(h["url"]) for kind in ("webhook", "webhookstock") for h in sandbox[0].store.of_type(kind).values()}
    assert urls == {f"{PUBLIC}/hooks/moysklad/shop/{TOKEN}"}


def test_list_masks_our_token_and_shows_other_receivers_by_origin(
    config: Callable[..., Path], sandbox: tuple[MoySkladSandbox, str]
) -> None:
    path = str(config())
    sandbox[0].token_kind = "user"  # a user's account: room for another app's receiver beside ours
    sandbox[0].writer.create(
        "webhook", {"url": "https://other.app/secret-path/abc", "entityType": "loss", "action": "DELETE"}
    )
    before = runner.invoke(app, webhooks("list", "-c", path, "--integration", "shop"))
    runner.invoke(app, webhooks("register", "-c", path, "--integration", "shop", "--public-url", PUBLIC))
    after = runner.invoke(app, webhooks("list", "-c", path, "--integration", "shop"))
    assert before.exit_code == after.exit_code == 0, after.output
    assert "https://other.app/… (another receiver)" in before.output
    assert after.output.count(f"{PUBLIC}/hooks/moysklad/shop/<token>") == 25
    assert "loss DELETE" in after.output and "enabled" in after.output
    assert TOKEN not in after.output and "secret-path" not in before.output + after.output


def test_a_full_account_says_which_kinds_had_no_room_after_doing_the_rest(
    config: Callable[..., Path], sandbox: tuple[MoySkladSandbox, str]
) -> None:
    sandbox[0].writer.create("webhook", {"url": "https://other.app/h", "entityType": "demand", "action": "CREATE"})
    result = runner.invoke(
        app, webhooks("register", "-c", str(config()), "--integration", "shop", "--public-url", PUBLIC)
    )
    assert_one_clear_failure(result, "no room for demand CREATE", "error 30007", "created stock report bystore")
    assert TOKEN not in result.output


@pytest.mark.parametrize(
    ("options", "args", "needles"),
    [
        ("", ("--public-url", PUBLIC), ("takes no stock webhooks", "options.stock.webhook_secret")),
        ('webhook_secret: "${CLI_WH_TOKEN}"', ("--public-url", "hub.example.com"), ("absolute http(s) URL",)),
        ('webhook_secret: "${CLI_WH_UNSET}"', ("--public-url", PUBLIC), ("CLI_WH_UNSET",)),
    ],
    ids=["no secret", "no scheme", "unset secret"],
)
def test_register_refuses_in_one_line(
    config: Callable[..., Path], options: str, args: tuple[str, ...], needles: tuple[str, ...]
) -> None:
    result = runner.invoke(app, webhooks("register", "-c", str(config(options)), "--integration", "shop", *args))
    assert_one_clear_failure(result, *needles)


def test_register_names_an_unknown_integration(config: Callable[..., Path]) -> None:
    result = runner.invoke(
        app, webhooks("register", "-c", str(config()), "--integration", "nope", "--public-url", PUBLIC)
    )
    assert_one_clear_failure(result, "integrations.nope", "known: ['shop']")


def test_serve_refuses_a_busy_port_and_a_config_without_webhooks(config: Callable[..., Path]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        taken = runner.invoke(app, webhooks("serve", "-c", str(config()), "--port", str(port)))
    assert_one_clear_failure(taken, f"cannot listen on 127.0.0.1:{port}", "pick another --port")
    none = runner.invoke(app, webhooks("serve", "-c", str(config("")), "--port", str(free_port())))
    assert_one_clear_failure(none, "no integration takes stock webhooks")
