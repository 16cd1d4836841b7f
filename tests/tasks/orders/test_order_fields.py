"""Custom fields on the draft and managers matched to employees (pure: no hub, no HTTP)."""

from __future__ import annotations

from hub.capabilities import Person
from tasks.orders.fields import ManagerBook, erp_fields, find_person, match

EMPLOYEES = [
    Person("e-1", "Петрова Анна", "anna@shop.example", "Анна", "Петрова"),
    Person("e-2", "Сидоров Иван", "ivan@shop.example", "Иван", "Сидоров"),
    Person("e-3", "Сидоров Иван", "ivan2@shop.example", "Иван", "Сидоров"),  # a namesake
    Person("e-4", "Орлова Ольга", None, "Ольга", "Орлова"),
]


def test_mapped_fields_take_the_channel_value_several_erp_fields_one_code() -> None:
    mappings: dict[str, dict[str, str | None]] = {
        "custom_fields": {"Канал": "channel", "Источник": "source", "Источник заказа": "source", "Пусто": "none"}
    }
    order = {"custom_fields": '{"channel": "Сайт", "source": "реклама", "other": 1}'}
    assert erp_fields(order, mappings) == {"Канал": "Сайт", "Источник": "реклама", "Источник заказа": "реклама"}
    assert erp_fields({"custom_fields": None}, mappings) == {}


def test_people_are_found_by_id_email_or_name_and_only_when_one_matches() -> None:
    assert find_person("e-4", EMPLOYEES) is EMPLOYEES[3]
    assert find_person("ANNA@shop.example", EMPLOYEES) is EMPLOYEES[0]
    assert find_person("Анна Петрова", EMPLOYEES) is EMPLOYEES[0]  # words in any order
    assert find_person("Иван Сидоров", EMPLOYEES) is None  # two of them: no guess
    assert match(Person("7", None, "Ivan2@Shop.Example"), EMPLOYEES) is EMPLOYEES[2]
    assert match(Person("8", "Орлова Ольга", None, "Ольга", "Орлова"), EMPLOYEES) is EMPLOYEES[3]
    assert match(Person("9", "Неизвестный Пётр", "petr@crm.example", "Пётр", "Неизвестный"), EMPLOYEES) is None


def test_the_mapping_wins_over_matching_and_works_both_ways() -> None:
    channel = [Person("5", None, "anna@shop.example", "Анна", "Петрова"), Person("6", None, None, "Ольга", "Орлова")]
    book = ManagerBook({"5": "e-2", "9": "nobody@shop.example"}, EMPLOYEES, channel)
    assert (book.employee("5"), book.employee("6"), book.employee("9"), book.employee("10")) == (
        "e-2",
        "e-4",
        None,
        None,
    )
    assert (book.manager("e-2"), book.manager("e-4"), book.manager("e-1")) == ("5", "6", None)
    strict = ManagerBook({"5": "e-2"}, EMPLOYEES, channel, match_people=False)
    assert (strict.employee("6"), strict.manager("e-4")) == (None, None)
