"""The console over HTTP (no browser): the login and its throttle, the session cookie, CSRF on every
form, no secret on any page, and each screen's action on the real hub store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from deployments.console import ConsoleOff, console_allowed
from deployments.console.auth import FREE_FAILURES, check_hash, hash_password
from hub.config import parse_config
from hub.saved_mappings import with_saved_mappings
from tests.deployments.console.conftest import MS_SECRET, PASSWORD, Console, config_data, make_console

SCREENS = (
    "/console/",
    "/console/queue",
    "/console/journal",
    "/console/undefined",
    "/console/mappings",
    "/console/links",
)


def test_every_screen_needs_a_login(console: Console) -> None:
    for path in SCREENS:
        response = console.client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].endswith("/console/login"), path


def test_a_login_opens_a_session_in_a_strict_http_only_cookie(console: Console) -> None:
    response = console.login()
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console/" in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback: a Secure cookie would never come back
    for path in SCREENS:
        page = console.client.get(path)
        assert page.status_code == 200, (path, page.text[:300])
        assert (
            page.headers["x-frame-options"] == "DENY"
            and "default-src 'self'" in page.headers["content-security-policy"]
        )
        assert page.headers["cache-control"] == "no-store"


def test_behind_https_the_cookie_is_secure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for console in make_console(tmp_path, monkeypatch, behind_https=True):
        assert "Secure" in console.login().headers["set-cookie"]


def test_a_wrong_password_is_refused_and_then_throttled(console: Console) -> None:
    assert console.login(password="wrong").status_code == 401
    assert console.login(user="mallory", password=PASSWORD).status_code == 401  # no such user: same answer
    for _ in range(FREE_FAILURES):
        console.login(password="wrong")
    locked = console.login()  # the right password, during the lockout: refused all the same
    assert locked.status_code == 429 and "Too many failed logins" in locked.text
    assert console.client.get("/console/", follow_redirects=False).status_code == 303


def test_a_form_without_its_csrf_token_is_refused(console: Console) -> None:
    console.login()
    item = console.store.queue.enqueue("shop", "orders", "k1", {"order_id": "1"})
    console.store.queue.fail(item.id, "boom", retryable=False)
    for data in ({}, {"csrf": "forged"}):
        refused = console.client.post(f"/console/queue/{item.id}/retry", data=data)
        assert refused.status_code == 403 and "CSRF" in refused.text
    assert console.store.queue.get(item.id).status == "dead"  # type: ignore[union-attr]
    # the login form too: a session is made when the page is shown, and its token checked
    assert console.client.post("/console/login", data={"user": "alice", "password": PASSWORD}).status_code == 403


def test_no_secret_is_rendered_credentials_show_as_references(console: Console) -> None:
    console.login()
    page = console.client.get("/console/").text
    assert "${CONSOLE_TEST_MS_PASSWORD}" in page and "${CONSOLE_TEST_CRM_KEY}" in page
    assert MS_SECRET not in page and "crm-key-value-99c1" not in page
    assert "no Prefect API is configured" in page  # said, not an error page


def test_the_console_is_off_on_a_public_address_until_a_login_is_configured(tmp_path: Path) -> None:
    data = config_data(tmp_path)
    data["console"] = {}
    bare = parse_config(data, source=tmp_path / "c.yaml", require_secrets=False)
    console_allowed(bare, "127.0.0.1")
    with pytest.raises(ConsoleOff, match=r"console\.users"):
        console_allowed(bare, "0.0.0.0")
    with_login = parse_config(config_data(tmp_path), source=tmp_path / "c.yaml", require_secrets=False)
    console_allowed(with_login, "0.0.0.0")


def test_a_password_in_the_file_is_refused_a_reference_is_taken(tmp_path: Path) -> None:
    from hub.config import ConfigError

    data = config_data(tmp_path)
    data["console"] = {"users": {"bob": {"password": "plain-text"}}}
    with pytest.raises(ConfigError, match=r"console\.users\.bob\.password"):
        parse_config(data, source=tmp_path / "c.yaml", require_secrets=False)
    data["console"] = {"users": {"bob": {"password_hash": "md5$abc"}}}
    with pytest.raises(ConfigError, match="hash-password"):
        parse_config(data, source=tmp_path / "c.yaml", require_secrets=False)


def test_password_hashes_are_salted_and_checked() -> None:
    one, two = hash_password("s3cret pass"), hash_password("s3cret pass")
    assert one != two and check_hash("s3cret pass", one) and not check_hash("s3cret pasS", one)
    assert not check_hash("x", "scrypt$garbage")


def test_retry_one_dead_item_and_all_dead_of_a_kind(console: Console) -> None:
    console.login()
    queue = console.store.queue
    dead = []
    for n in range(3):
        item = queue.enqueue("shop", "orders", f"o{n}", {"order_id": str(n)})
        dead.append(queue.fail(item.id, f"order {n} parked: status `x` is not mapped", retryable=False))
    other = queue.enqueue("shop", "stock", "s1", {"rows": 5})
    queue.fail(other.id, "refused", retryable=False)
    page = console.client.get("/console/queue?status=dead")
    assert all(f'id="item-{i.id}"' in page.text for i in dead) and "status `x` is not mapped" in page.text
    retried = console.client.post(f"/console/queue/{dead[0].id}/retry", data={"csrf": console.csrf("/console/queue")})
    assert retried.status_code == 200 and "is due again" in retried.text
    assert queue.get(dead[0].id).status == "pending"  # type: ignore[union-attr]
    csrf = console.csrf("/console/queue")
    console.client.post("/console/queue/retry-dead", data={"csrf": csrf, "integration": "shop", "retry_kind": "orders"})
    assert {queue.get(i.id).status for i in dead} == {"pending"}  # type: ignore[union-attr]
    assert queue.get(other.id).status == "dead"  # type: ignore[union-attr]  # another kind: left alone
    assert console.client.get("/console/queue?status=bogus").status_code == 400


def test_journal_pages_newest_first_by_id(console: Console) -> None:
    console.login()
    for n in range(120):
        console.store.journal.write("shop", "warning" if n % 2 else "info", "test.event", f"entry {n:03d}")
    first = console.client.get("/console/journal?integration=shop").text
    assert first.index("entry 119") < first.index("entry 070") and "entry 069" not in first
    older = first.split('href="')[-1].split('"')[0].replace("&amp;", "&")
    assert "before=" in older
    second = console.client.get(older).text
    assert "entry 069" in second and "entry 119" not in second
    warnings = console.client.get("/console/journal?integration=shop&level=warning").text
    assert "entry 119" in warnings and "entry 118" not in warnings


def test_a_saved_mapping_wins_over_the_file_and_keeps_statuses_one_to_one(console: Console) -> None:
    console.login()
    csrf = console.csrf("/console/mappings")
    saved = console.client.post(
        "/console/mappings/save",
        data={"csrf": csrf, "integration": "shop", "kind": "statuses", "source": "new", "target": "Принят"},
    )
    assert saved.status_code == 200 and "saved" in saved.text
    page = console.client.get("/console/mappings?integration=shop").text
    assert "Новый" in page and "Принят" in page  # the file's value beside the saved one
    effective = with_saved_mappings(console.config, console.store).integrations["shop"].mappings
    assert effective["statuses"] == {"new": "Принят", "complete": "Отгружен"}
    clash = console.client.post(
        "/console/mappings/save",
        data={"csrf": csrf, "integration": "shop", "kind": "statuses", "source": "assembling", "target": "Отгружен"},
    )
    assert clash.status_code == 400 and "1:1" in clash.text
    console.client.post(
        "/console/mappings/forget", data={"csrf": csrf, "integration": "shop", "kind": "statuses", "source": "new"}
    )
    assert (
        with_saved_mappings(console.config, console.store).integrations["shop"].mappings["statuses"]["new"] == "Новый"
    )


def test_undefined_lists_values_met_and_drops_them_once_mapped(console: Console) -> None:
    console.login()
    console.store.mappings.mark_unknown("shop", "statuses", ["assembling"], met_in="order-upload")
    console.store.mappings.mark_unknown("shop", "statuses", ["Возврат"], met_in="order-status-sync")
    page = console.client.get("/console/undefined").text
    assert "assembling" in page and "Возврат" in page and "Channel status for Возврат" in page
    csrf = console.csrf("/console/undefined")
    console.client.post(
        "/console/mappings/save",
        data={
            "csrf": csrf,
            "from": "undefined",
            "integration": "shop",
            "kind": "statuses",
            "source": "returned",
            "target": "Возврат",
        },
    )
    page = console.client.get("/console/undefined").text
    assert "Возврат" not in page and "assembling" in page


def test_links_are_found_by_either_id_added_and_removed(console: Console) -> None:
    console.login()
    csrf = console.csrf("/console/links")
    form = {"csrf": csrf, "integration": "shop", "kind": "customers", "system_a": "retailcrm", "id_a": "c-17"}
    added = console.client.post("/console/links/add", data={**form, "system_b": "moysklad", "id_b": "ms-uuid-17"})
    assert added.status_code == 200 and "linked" in added.text
    hub_key = console.store.links.resolve("shop", "customers", "retailcrm", ["c-17"])["c-17"]
    assert console.store.links.resolve("shop", "customers", "moysklad", ["ms-uuid-17"]) == {"ms-uuid-17": hub_key}
    for q in ("c-17", "ms-uuid-17", hub_key):
        found = console.client.get(f"/console/links?integration=shop&q={q}").text
        assert "c-17" in found and "ms-uuid-17" in found, q
    clash = console.client.post(
        "/console/links/add", data={**form, "id_a": "c-18", "system_b": "moysklad", "id_b": "ms-uuid-17"}
    )
    assert clash.status_code == 409
    console.client.post(
        "/console/links/remove",
        data={
            "csrf": csrf,
            "integration": "shop",
            "kind": "customers",
            "system": "moysklad",
            "external_id": "ms-uuid-17",
        },
    )
    assert console.store.links.resolve("shop", "customers", "moysklad", ["ms-uuid-17"]) == {}


@pytest.fixture
def loopback_without_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Console]:
    monkeypatch.setattr("deployments.console.prefect_ops.api_url", lambda: None)
    yield from make_console(tmp_path, monkeypatch, users={})


def test_on_loopback_without_a_login_the_console_opens_with_csrf_still_checked(loopback_without_login: Console) -> None:
    client = loopback_without_login.client
    page = client.get("/console/queue")
    assert page.status_code == 200 and "no login configured" in page.text
    assert client.post("/console/queue/retry-dead", data={"integration": "shop", "retry_kind": "x"}).status_code == 403


def test_serve_mounts_the_console_at_console_on_its_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from starlette.testclient import TestClient

    from deployments.cli.serve import _console
    from deployments.service.serve import Plan, hub_app

    monkeypatch.setenv("CONSOLE_TEST_MS_PASSWORD", MS_SECRET)
    monkeypatch.setenv("CONSOLE_TEST_CRM_KEY", "k")
    config = parse_config(config_data(tmp_path), source=tmp_path / "skladbridge.yaml")
    served = Plan(config, tmp_path / "skladbridge.yaml", deployments=[], hooks={})
    app = hub_app(tmp_path / "skladbridge.yaml", served, _console(config, "127.0.0.1", "http://127.0.0.1:8090"))
    with TestClient(app) as client:
        assert client.get("/console/login").status_code == 200
        assert client.get("/elsewhere").status_code == 404
    data = config_data(tmp_path)
    data["console"] = {}
    bare = parse_config(data, source=tmp_path / "skladbridge.yaml")
    assert _console(bare, "0.0.0.0", "http://0.0.0.0:8090") is None  # said why, and not mounted


def test_a_flood_of_login_page_visits_never_pushes_out_a_logged_in_session() -> None:
    from deployments.console.auth import Sessions

    sessions = Sessions(3600, max_sessions=5)
    anna = sessions.new("anna")
    anonymous = [sessions.new() for _ in range(50)]
    assert sessions.get(anna.token) is anna
    assert sessions.get(anonymous[-1].token) is not None and sessions.get(anonymous[0].token) is None
    assert len(sessions._by_token) <= 5


def test_config_check_prints_no_password_hash(tmp_path: Path) -> None:
    from hub.config import redacted_dump

    config = parse_config(config_data(tmp_path), source=tmp_path / "c.yaml", require_secrets=False)
    dumped = redacted_dump(config)
    assert "scrypt$" not in str(dumped) and "alice" in dumped["console"]["users"]
