"""retailCRM's side of the two-way sync as wire shapes: customer cards, edits, order lines and items."""

from __future__ import annotations

from connectors.retailcrm.capabilities.two_way import RetailCRMTwoWay, card_of, lines_of
from hub.capabilities.two_way import Line

PERSON = {
    "id": 7,
    "firstName": "Ада",
    "lastName": "Лавлейс",
    "phones": [{"number": "+7 999 111-22-33"}, {"number": "+7 999 000-00-00"}],
    "email": "ada@example.com",
    "address": {"text": "Лондон, Сент-Джеймс-сквер, 12", "notes": "from MoySklad"},
    "contragent": {"contragentType": "individual"},
}
CONTRAGENT = {"contragentType": "legal-entity", "legalName": "ООО Ромашка", "INN": "7701234567", "KPP": "770101001"}
COMPANY = {
    "id": 8,
    "contragent": CONTRAGENT,
    "address": {"city": "Москва", "street": "Тверская", "building": "1", "notes": "the ERP's address"},
}


def test_a_card_is_the_name_the_upload_gives_the_erp_and_never_the_address_notes() -> None:
    assert card_of(PERSON) == {
        "name": "Лавлейс Ада",
        "phone": "+7 999 111-22-33",
        "email": "ada@example.com",
        "address": "Лондон, Сент-Джеймс-сквер, 12",
        "inn": None,
        "kpp": None,
    }
    company = card_of(COMPANY)
    assert company["name"] == "ООО Ромашка" and (company["inn"], company["kpp"]) == ("7701234567", "770101001")
    assert company["address"] == "Москва, Тверская, 1"  # its parts, without the notes


def test_an_edit_puts_the_erps_address_into_the_notes_and_keeps_the_other_phones() -> None:
    edit = RetailCRMTwoWay._customer_edit(PERSON, {"name": "Кинг Ада", "phone": "+79995556677", "address": "Окхем"})
    assert edit["lastName"] == "Кинг" and edit["firstName"] == "Ада"
    assert edit["phones"] == [{"number": "+79995556677"}, {"number": "+7 999 000-00-00"}]
    assert edit["address"] == {"text": "Лондон, Сент-Джеймс-сквер, 12", "notes": "Окхем"}
    legal = RetailCRMTwoWay._customer_edit(COMPANY, {"name": "ООО Лютик", "kpp": None})
    assert legal == {"contragent": {**CONTRAGENT, "legalName": "ООО Лютик", "KPP": ""}}


def test_lines_are_by_erp_offer_and_an_edit_keeps_items_of_no_erp_offer() -> None:
    order = {
        "items": [
            {"id": 1, "offer": {"xmlId": "a"}, "quantity": 2, "initialPrice": 100.5},
            {"id": 2, "offer": {"xmlId": "b"}, "quantity": 1, "initialPrice": 50},
            {"id": 3, "offer": {"id": 99}, "quantity": 1, "initialPrice": 10},  # no ERP offer: the shop's own
            {"id": 4, "offer": {"xmlId": "c"}, "quantity": 1, "initialPrice": 10, "isCanceled": True},
        ]
    }
    assert lines_of(order) == [Line("a", 2.0, 10050), Line("b", 1.0, 5000)]
    items = RetailCRMTwoWay._items(order, [Line("a", 5, 10050), Line("d", 1, 700)])
    assert items == [
        {"id": 1, "quantity": 5, "initialPrice": 100.5},
        {"id": 3},
        {"id": 4},
        {"offer": {"xmlId": "d"}, "quantity": 1, "initialPrice": 7},
    ]
