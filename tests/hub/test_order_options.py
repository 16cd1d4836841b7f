"""Order options and mappings in the config: defaults, the 1:1 status mapping checked at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import ConfigError, load_config

BASE = """
integrations:
  main:
    systems:
      ms:  {system: moysklad, token: "${TEST_MS_TOKEN}", token_kind: app}
      crm: {system: retailcrm, base_url: "https://demo.retailcrm.ru", api_key: "${TEST_CRM_KEY}", site: main}
    flows:
      orders: {from: crm, to: ms}
    mappings:
      statuses: STATUSES
      order_stores: {msk: Основной склад}
      delivery_types: {courier: Доставка курьером, self-delivery: null}
    options:
      orders: OPTIONS
"""


@pytest.fixture(autouse=True)
def secrets_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_MS_TOKEN", "ms-token-value-0001")
    monkeypatch.setenv("TEST_CRM_KEY", "crm-key-value-0002")


def load(tmp_path: Path, statuses: str = "{new: Новый}", options: str = "{}") -> object:
    path = tmp_path / "skladbridge.yaml"
    path.write_text(BASE.replace("STATUSES", statuses).replace("OPTIONS", options), encoding="utf-8")
    return load_config(path)


def test_defaults_follow_the_design(tmp_path: Path) -> None:
    orders = load(tmp_path).integration("main").options.orders  # type: ignore[attr-defined]
    assert orders.upload_statuses == [] and orders.customer_search == ["phone", "email", "inn"]
    assert (orders.customer_group, orders.organization, orders.default_delivery) == (None, None, None)
    assert orders.number == "channel" and orders.reserve is False and orders.delivery_line is True
    assert orders.poll_seconds is None  # the channel's own period (hub.systems.Connector.order_poll_seconds)


def test_every_option_is_read(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        options="{upload_statuses: [new, assembling], customer_search: [email, phone], "
        "customer_group: shop, organization: ООО Ромашка, number: erp, reserve: true, "
        "delivery_line: false, default_delivery: Доставка, poll_seconds: 5}",
    )
    orders = config.integration("main").options.orders  # type: ignore[attr-defined]
    assert orders.upload_statuses == ["new", "assembling"] and orders.customer_search == ["email", "phone"]
    assert (orders.customer_group, orders.organization, orders.number) == ("shop", "ООО Ромашка", "erp")
    assert orders.reserve and not orders.delivery_line and orders.default_delivery == "Доставка"
    assert orders.poll_seconds == 5
    mappings = config.integration("main").mappings  # type: ignore[attr-defined]
    assert mappings["delivery_types"] == {"courier": "Доставка курьером", "self-delivery": None}


def test_two_channel_statuses_on_one_state_is_an_error_naming_both(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, statuses="{new: Новый, assembling: Подтвержден, client-confirmed: Подтвержден}")
    text = str(info.value)
    assert "integrations.main.mappings" in text and "'assembling' and 'client-confirmed'" in text
    assert "Подтвержден" in text and "1:1" in text


def test_state_names_are_case_sensitive_and_unmapped_statuses_do_not_clash(tmp_path: Path) -> None:
    config = load(tmp_path, statuses="{new: Новый, other: новый, cancel: null, gone: null}")
    assert config.integration("main").mappings["statuses"]["other"] == "новый"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("{customer_search: [phone, fax]}", "customer_search"),
        ("{customer_search: [phone, phone]}", "more than once"),
        ("{number: both}", "number"),
        ("{poll_seconds: 0}", "poll_seconds"),
        ("{reserv: true}", "unknown key"),
    ],
)
def test_bad_options_name_their_path(tmp_path: Path, options: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, options=options)
    assert "integrations.main.options.orders" in str(info.value) and message in str(info.value)


def test_document_options_default_to_the_seed_and_payment_documents_name_a_document(tmp_path: Path) -> None:
    documents = load(tmp_path).integration("main").options.documents  # type: ignore[attr-defined]
    assert (documents.shipment_statuses, documents.shipment_cancel_statuses) == ([], [])
    assert documents.shipment_number and not documents.shipment_custom_fields
    assert documents.cost_prices and not documents.cost_prices_overwrite
    assert documents.payment_posted_statuses == ["paid"] and documents.payment_number
    path = tmp_path / "skladbridge.yaml"
    text = BASE.replace("STATUSES", "{new: Новый}").replace("OPTIONS", "{}")
    path.write_text(text.replace("    options:", "      payment_documents: {card: bank, cash: till}\n    options:"))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "payment_documents" in str(info.value) and "'till'" in str(info.value) and "`bank`" in str(info.value)
