"""MoySklad's CustomerBook over loopback HTTP: exact searches in few requests, typed creates in bulk."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connectors.moysklad.capabilities.customers import MoySkladCustomers, normalise_phone
from connectors.moysklad.client import MoySkladClient
from connectors.moysklad.sandbox import API_PREFIX, MoySkladSandbox
from connectors.moysklad.sandbox.generator import seed_catalog
from connectors.sandboxing import LoopbackServer
from hub import model, systems
from hub.capabilities import CustomerBook
from tests.connectors.moysklad.conftest import DAY, TOKEN, run
from tests.connectors.moysklad.spec import SPEC, Recorder, SpecValidator
from tests.shared_apis import require


@pytest.fixture
def served() -> Iterator[tuple[MoySkladSandbox, str]]:
    sb = MoySkladSandbox(token=TOKEN, token_kind="app", today=DAY)
    seed_catalog(sb, 5, seed=2)
    with LoopbackServer(sb.app) as server:
        yield sb, server.url + API_PREFIX


def gets(sb: MoySkladSandbox) -> int:
    return sb.log.count(path_prefix="/entity/counterparty", method="GET")


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("8 (999) 111-22-33", "+79991112233"),
        ("+7 999 111 22 33", "+79991112233"),
        ("9991112233", "+79991112233"),
        ("79991112233", "+79991112233"),
        ("+375 29 111-22-33", "+375291112233"),
        ("112", None),
        ("", None),
        (None, None),
    ],
)
def test_phones_are_normalised_to_one_form(raw: str | None, norm: str | None) -> None:
    assert normalise_phone(raw) == norm


def test_find_by_phone_then_email_then_inn_a_request_per_key_and_hundred(served: tuple[MoySkladSandbox, str]) -> None:
    sb, base = served
    for i in range(300):  # counterparties as MoySklad holds them: ours in the normalised form
        sb.store.put("counterparty", {"name": f"К{i}", "phone": f"+7999{i:07d}", "email": f"k{i}@ex.ru"})
    sb.store.put("counterparty", {"name": "Радуга", "companyType": "legal", "inn": "7736207543"})
    sb.store.put("counterparty", {"name": "Вручную", "phone": "8 (912) 000-11-22"})  # typed by a manager
    rows = [{"customer_id": f"c{i}", "phone": f"8 999 {i:07d}"} for i in range(250)]
    rows += [
        {"customer_id": "e1", "phone": "+7 000 000 00 00", "email": "K7@EX.RU"},
        {"customer_id": "i1", "inn": "7736207543", "email": "nobody@ex.ru"},
        {"customer_id": "typed", "phone": "8 (912) 000-11-22"},
        {"customer_id": "none", "email": "x@y.z"},
    ]
    customers = model.frame("customers", rows)

    async def go() -> dict[str, str]:
        async with MoySkladClient(base, token=TOKEN, token_kind="app", today=DAY) as ms:
            return await MoySkladCustomers(ms).find_customers(customers, ["phone", "email", "inn"])

    found = run(go())
    names = {cid: sb.store.get("counterparty", cp)["name"] for cid, cp in found.items()}  # type: ignore[index]
    assert names == {**{f"c{i}": f"К{i}" for i in range(250)}, "e1": "К7", "i1": "Радуга", "typed": "Вручную"}
    # phone: 253 searched values (+ the typed forms of 252 that differ) → 6 requests of ≤ 100; e-mail 1; INN 1
    assert gets(sb) == 8


def test_create_legal_individual_entrepreneur_in_bulk_idempotently(served: tuple[MoySkladSandbox, str]) -> None:
    require(SPEC)
    sb, base = served
    customers = model.frame(
        "customers",
        [  # the bank columns are canonical ones
            {
                "customer_id": "L",
                "company_type": "legal",
                "name": "ООО «Ромашка»",
                "first_name": "Анна",
                "last_name": "Смирнова",
                "phone": "8 (495) 123-45-67",
                "email": "Anna@Romashka.ru",
                "inn": "7736207543",
                "kpp": "773601001",
                "bank_account": "40702810900000000001",
                "bank_bic": "044525225",
                "bank_name": "ПАО Сбербанк",
            },
            {
                "customer_id": "I",
                "company_type": "individual",
                "first_name": "Иван",
                "last_name": "Петров",
                "phone": "+7 999 111 22 33",
            },
            {
                "customer_id": "E",
                "company_type": "entrepreneur",
                "name": "ИП Сидоров",
                "first_name": "Олег",
                "last_name": "Сидоров",
                "inn": "771234567890",
            },
        ],
    )
    keys = {"L": "shop:L", "I": "shop:I", "E": "shop:E"}
    recorder = Recorder(httpx.AsyncHTTPTransport())

    async def go() -> tuple[Any, Any, dict[str, str]]:
        async with MoySkladClient(base, token=TOKEN, token_kind="app", today=DAY, transport=recorder) as ms:
            book = MoySkladCustomers(ms)
            first = await book.create_customers(customers, group="Интернет-магазин", keys=keys)
            again = await book.create_customers(customers, group="Интернет-магазин", keys=keys)
            return first, again, await book.find_customers(customers, ["phone"])

    first, again, found = run(go())
    assert sb.log.count(path_prefix="/entity/counterparty", method="POST") == 2  # one bulk POST each time
    assert {c: o.erp_id for c, o in first.items()} == {c: o.erp_id for c, o in again.items()}
    assert len(sb.store.of_type("counterparty")) == 3 and found == {"L": first["L"].erp_id, "I": first["I"].erp_id}
    legal, person, ip = (sb.store.get("counterparty", first[c].erp_id or "") or {} for c in "LIE")
    assert (legal["companyType"], legal["name"], legal["inn"], legal["kpp"]) == (
        "legal",
        "ООО «Ромашка»",
        "7736207543",
        "773601001",
    )
    assert legal["phone"] == "+74951234567" and legal["email"] == "anna@romashka.ru"
    assert legal["_contactpersons"] == [{"name": "Смирнова Анна", "phone": "+74951234567", "email": "anna@romashka.ru"}]
    assert legal["_accounts"] == [
        {"accountNumber": "40702810900000000001", "bic": "044525225", "bankName": "ПАО Сбербанк", "isDefault": True}
    ]
    assert (person["companyType"], person["legalFirstName"], person["phone"]) == ("individual", "Иван", "+79991112233")
    assert person["_accounts"] == [] and person["_contactpersons"] == []
    assert (ip["companyType"], ip["inn"], ip["legalLastName"]) == ("entrepreneur", "771234567890", "Сидоров")
    assert all(cp["tags"] == ["Интернет-магазин"] for cp in (legal, person, ip))
    spec = SpecValidator()
    assert [p for e in recorder.exchanges for p in spec.check(e) or []] == []


def test_one_person_known_twice_to_the_channel_gets_one_counterparty(served: tuple[MoySkladSandbox, str]) -> None:
    """Two channel customers with one phone typed two ways (or one e-mail in two cases), created in one
    batch, are one counterparty: neither was found, and two creates would duplicate the person."""
    sb, base = served
    customers = model.frame(
        "customers",
        [
            {"customer_id": "a", "first_name": "Ада", "phone": "8 (999) 111-22-33"},
            {"customer_id": "b", "first_name": "Ада", "phone": "+7 999 111 22 33"},
            {"customer_id": "c", "first_name": "Бэб", "email": "Bab@Ex.ru"},
            {"customer_id": "d", "first_name": "Бэб", "email": "bab@ex.ru"},
            {"customer_id": "e", "first_name": "Грейс", "phone": "+7 999 000 00 01"},
        ],
    )
    keys = {cid: f"shop:{cid}" for cid in "abcde"}

    async def go() -> dict[str, Any]:
        async with MoySkladClient(base, token=TOKEN, token_kind="app", today=DAY) as ms:
            return await MoySkladCustomers(ms).create_customers(customers, group=None, keys=keys)

    before = len(sb.store.of_type("counterparty"))
    made = {cid: o.erp_id for cid, o in run(go()).items()}
    assert made["a"] == made["b"] and made["c"] == made["d"] and len(set(made.values())) == 3
    assert len(sb.store.of_type("counterparty")) == before + 3


def test_moysklad_declares_the_customer_book() -> None:
    assert systems.connector("moysklad").can(CustomerBook) and isinstance(MoySkladCustomers(None), CustomerBook)
