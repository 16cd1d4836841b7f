"""The config: directed edges, secrets as references only, errors that name the key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import ConfigError, load_config, redacted_dump, resolve_secret

GOOD = """
integrations:
  main:
    systems:
      ms:  {system: moysklad, token: "${TEST_MS_TOKEN}", token_kind: app}
      crm: {system: retailcrm, base_url: "https://demo.retailcrm.ru", api_key: "${TEST_CRM_KEY}", site: main}
    flows:
      catalog: {from: ms, to: crm}
      stock:   {from: ms, to: crm}
      prices:  {from: ms, to: crm}
    mappings:
      stores: {Основной склад: warehouse}
    options: {stock: {measure: quantity}}
    periods: {stock_sync: 600, order_upload: "*/1 * * * *"}
"""


@pytest.fixture
def secrets_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_MS_TOKEN", "ms-token-value-0001")
    monkeypatch.setenv("TEST_CRM_KEY", "crm-key-value-0002")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "skladbridge.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_config_loads_with_edges_and_default_database(tmp_path: Path, secrets_env: None) -> None:
    config = load_config(write(tmp_path, GOOD))
    integ = config.integration("main")
    assert integ.edge("stock") is not None and integ.edge("stock").source == "ms"  # type: ignore[union-attr]
    assert integ.options.stock.measure == "quantity"
    assert config.effective_database_url() == f"sqlite:///{(tmp_path / 'skladbridge.db').resolve()}"


def test_dump_keeps_references_never_values(tmp_path: Path, secrets_env: None) -> None:
    dumped = str(redacted_dump(load_config(write(tmp_path, GOOD))))
    assert "${TEST_MS_TOKEN}" in dumped
    assert "ms-token-value-0001" not in dumped and "crm-key-value-0002" not in dumped


def test_secret_reference_resolves_from_environment(secrets_env: None) -> None:
    assert resolve_secret("${TEST_MS_TOKEN}") == "ms-token-value-0001"


def test_unknown_key_names_its_path(tmp_path: Path, secrets_env: None) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, GOOD.replace("flows:", "flowz:")))
    assert "integrations.main.flowz" in str(info.value)
    assert "unknown key" in str(info.value)
    assert str(tmp_path / "skladbridge.yaml") in str(info.value)


def test_secret_written_in_the_file_is_refused(tmp_path: Path, secrets_env: None) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, GOOD.replace('"${TEST_CRM_KEY}"', "plain-key-in-file")))
    assert "integrations.main.systems.crm.api_key" in str(info.value)
    assert "plain-key-in-file" not in str(info.value)


def test_missing_environment_variable_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_CRM_KEY", "x-key-0003")
    monkeypatch.delenv("TEST_MS_TOKEN", raising=False)
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, GOOD))
    assert "integrations.main.systems.ms.token" in str(info.value) and "TEST_MS_TOKEN" in str(info.value)


def test_edge_a_connector_cannot_serve_is_refused(tmp_path: Path, secrets_env: None) -> None:
    text = GOOD.replace("stock:   {from: ms, to: crm}", "stock:   {from: crm, to: ms}")
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    message = str(info.value)
    assert "integrations.main.flows.stock.from" in message and "cannot read 'stock'" in message


def test_edge_naming_an_undefined_system_is_refused(tmp_path: Path, secrets_env: None) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, GOOD.replace("prices:  {from: ms, to: crm}", "prices:  {from: shop, to: crm}")))
    assert "integrations.main.flows.prices.from" in str(info.value)


def test_an_exchange_no_connector_implements_yet_is_refused(tmp_path: Path, secrets_env: None) -> None:
    """The config accepts only what code backs: no connector declares payment capabilities yet."""
    text = GOOD.replace("prices:  {from: ms, to: crm}", "payments:  {from: crm, to: ms}")
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    message = str(info.value)
    assert "flows.payments.from" in message and "the retailcrm connector cannot read 'payments'" in message
    assert "flows.payments.to" in message and "the moysklad connector cannot write 'payments'" in message


def test_options_of_the_first_releases_say_where_they_moved(tmp_path: Path, secrets_env: None) -> None:
    text = GOOD.replace(
        "options: {stock: {measure: quantity}}", "options: {stock_type: quantity, upload_batch_size: 50}"
    )
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    message = str(info.value)
    assert "stock_type is now options.stock.measure" in message
    assert "upload_batch_size is now batch_size of the channel system" in message


def test_unknown_system_and_wrong_type(tmp_path: Path, secrets_env: None) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, GOOD.replace("system: retailcrm", "system: bitrix")))
    assert "unknown system 'bitrix'" in str(info.value)
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, GOOD.replace("measure: quantity", "measure: lots")))
    assert "integrations.main.options.stock.measure" in str(info.value)


def test_missing_file_says_how_to_provide_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml")
    assert "SKLADBRIDGE_CONFIG" in str(info.value)


def test_unknown_integration_lists_known(tmp_path: Path, secrets_env: None) -> None:
    config = load_config(write(tmp_path, GOOD))
    with pytest.raises(ConfigError) as info:
        config.integration("other")
    assert "['main']" in str(info.value)


def test_commands_without_calls_may_load_with_secrets_unset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading the journal or the queue needs no credentials; building a client still does."""
    monkeypatch.delenv("TEST_MS_TOKEN", raising=False)
    monkeypatch.delenv("TEST_CRM_KEY", raising=False)
    config = load_config(write(tmp_path, GOOD), require_secrets=False)
    token = config.integration("main").systems["ms"].token  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="TEST_MS_TOKEN"):
        resolve_secret(token)


def test_every_problem_is_reported_in_one_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Environment, schema (each system alias) and edges all reported, not the first stage only."""
    monkeypatch.setenv("TEST_CRM_KEY", "crm-key-value-0002")
    monkeypatch.delenv("TEST_MS_TOKEN", raising=False)
    text = (
        "database_url: mongodb://h/db\n"
        + GOOD.replace("token_kind: app", "token_kind: robot").replace("measure: quantity", "measure: lots")
        + "  other:\n    systems:\n"
        "      ms: {system: moysklad, login: admin@shop}\n"
        "      crm: {system: retailcrm, api_key: '${TEST_CRM_KEY}'}\n"
        "  third:\n    systems:\n      ms: {system: moysklad, token: '${TEST_CRM_KEY}'}\n"
        "      crm: {system: retailcrm, base_url: 'https://a.retailcrm.ru', api_key: '${TEST_CRM_KEY}'}\n"
        "    flows: {stock: {from: crm, to: ms}}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    paths = [path for path, _ in info.value.problems]
    assert "integrations.main.systems.ms.token" in paths  # unset environment variable
    assert "database_url" in paths and "integrations.main.options.stock.measure" in paths
    assert "integrations.main.systems.ms.token_kind" in paths
    assert "integrations.other.systems.ms" in paths and "integrations.other.systems.crm.base_url" in paths
    assert "integrations.third.flows.stock.from" in paths  # edges of an integration valid on its own


def test_moysklad_without_credentials_is_refused(tmp_path: Path, secrets_env: None) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, GOOD.replace('token: "${TEST_MS_TOKEN}", ', "")))
    assert "integrations.main.systems.ms: no credentials" in str(info.value)


def test_database_password_is_redacted_inline_or_from_the_environment(
    tmp_path: Path, secrets_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "postgresql://hub:pg-secret-0004@db.local:5432/hub"
    monkeypatch.setenv("TEST_DB_URL", url)
    for value in (url, "${TEST_DB_URL}"):
        dumped = redacted_dump(load_config(write(tmp_path, f"database_url: {value}\n" + GOOD)))
        assert dumped["database_url"] == "postgresql://hub:***@db.local:5432/hub"


def test_a_feed_url_option_is_refused_saying_to_remove_it(tmp_path: Path, secrets_env: None) -> None:
    secret_url = "https://hub.example.com/feeds/main/feed-path-secret-0123456789.xml"
    text = GOOD.replace("options: {stock: {measure: quantity}}", f"options: {{feed: {{public_url: '{secret_url}'}}}}")
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    message = str(info.value)
    assert "integrations.main.options.feed" in message and "public_url is not an option" in message
    assert "remove it" in message and "feed-path-secret-0123456789" not in message


# -- limits at load: nothing passes the check and fails (or hangs) later ------------------------

ANCHOR_BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_a_yaml_anchor_bomb_is_refused_naming_the_file(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = write(tmp_path, ANCHOR_BOMB)
    assert path.stat().st_size == 342
    # in a child process: the old loader expanded the bomb for minutes (or to MemoryError); the
    # timeout only keeps such a hang from hanging the test run
    probe = f"from hub.config import load_config\nload_config({str(path)!r})"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 1, done.stderr[-2000:]
    assert "ConfigError" in done.stderr and str(path) in done.stderr
    assert "aliases (*name) are expanded" in done.stderr, done.stderr[-2000:]


def test_a_file_nested_too_deep_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "integrations: " + "[" * 40 + "]" * 40 + "\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value) and "nested more than 32 levels deep, at line 1" in str(info.value)
    # 20 000 deep: libyaml's own limit (1 000) may speak first; either way a ConfigError naming the
    # file, not a bare RecursionError
    path = write(tmp_path, "integrations: " + "[" * 20_000 + "]" * 20_000 + "\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value) and "nest" in str(info.value)


def test_a_few_aliases_still_load(tmp_path: Path, secrets_env: None) -> None:
    shared = GOOD.replace(
        "    options: {stock: {measure: quantity}}", "    options: &opts {stock: {measure: quantity}}"
    )
    config = load_config(
        write(
            tmp_path,
            shared + "  second:\n    systems: {ms: {system: moysklad, token: "
            "'${TEST_MS_TOKEN}'}}\n    options: *opts\n",
        )
    )
    assert config.integration("second").options.stock.measure == "quantity"


def test_edge_problems_come_with_schema_problems_in_one_pass(tmp_path: Path, secrets_env: None) -> None:
    text = GOOD.replace("token_kind: app", "token_kind: app, colour: red").replace(
        "stock:   {from: ms, to: crm}", "stock:   {from: ms, to: nowhere}"
    )
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    problems = dict(info.value.problems)
    assert "integrations.main.systems.ms.colour" in problems
    assert "'nowhere' is not a system alias" in problems["integrations.main.flows.stock.to"]


def test_a_long_integration_name_is_refused(tmp_path: Path, secrets_env: None) -> None:
    name = "n" * 200  # the store's integration column holds 100
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, GOOD.replace("  main:", f"  {name}:")))
    assert "must be 1 to 64 characters" in str(info.value)


def test_a_long_string_and_a_huge_file_are_refused(tmp_path: Path, secrets_env: None) -> None:
    long_url = "https://demo.retailcrm.ru/" + "x" * 5000
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, GOOD.replace("https://demo.retailcrm.ru", long_url)))
    assert "integrations.main.systems.crm.base_url: longer than 4096 characters" in str(info.value)
    huge = GOOD.replace("https://demo.retailcrm.ru", "https://demo.retailcrm.ru/" + "x" * 10_000_000)
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, huge))
    assert "larger than 1000 KB" in str(info.value)


def test_a_period_past_a_year_is_refused_at_load(tmp_path: Path, secrets_env: None) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, GOOD.replace("stock_sync: 600", "stock_sync: 99999999999999")))
    assert "integrations.main.periods.stock_sync" in str(info.value) and "at most 366d" in str(info.value)


def test_too_many_integrations_in_one_file(tmp_path: Path, secrets_env: None) -> None:
    shops = "".join(
        f"  shop{i}:\n    systems: {{ms: {{system: moysklad, token: '${{TEST_MS_TOKEN}}'}}}}\n" for i in range(1000)
    )
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "integrations:\n" + shops))
    assert "1000 integrations, more than 200 in one file" in str(info.value)


def test_more_aliases_than_the_limit_are_refused(tmp_path: Path) -> None:
    text = "x: &x 1\nlist: [" + ", ".join(["*x"] * 101) + "]\n"
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert "more than 100 YAML aliases (*name), at line 2" in str(info.value)
