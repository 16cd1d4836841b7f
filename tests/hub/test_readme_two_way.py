"""Every two-way option is in the README's table, with the default the code has."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hub.options import TwoWayOptions

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def shown(value: object) -> str:
    return "null" if value is None else json.dumps(value)


def test_every_two_way_option_is_in_the_readme_with_its_default() -> None:
    table = README.split("| option (`options.two_way`) | default | what it does |", 1)[1].split("\n\n", 1)[0]
    rows = dict(re.findall(r"^\| `(\w+)` \| `([^`]*)` \|", table, flags=re.M))
    defaults = TwoWayOptions().model_dump()
    assert set(rows) == set(defaults)
    assert {key: rows[key] for key in defaults} == {key: shown(value) for key, value in defaults.items()}
