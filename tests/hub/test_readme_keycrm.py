"""The README's keyCRM configuration is a valid config and shows every keyCRM setting with its default."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from connectors.keycrm.settings import KeyCRMSettings
from hub.config import parse_config

README = Path(__file__).resolve().parents[2] / "README.md"


def _block() -> str:
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    return next(b for b in blocks if "system: keycrm" in b)


def test_the_keycrm_block_validates() -> None:
    config = parse_config(yaml.safe_load(_block()), source="README.md", require_secrets=False)
    integ = config.integration("kc-shop")
    assert integ.systems["kc"].system == "keycrm" and integ.options.stock.measure == "stock"


def test_every_keycrm_setting_is_shown_with_its_default() -> None:
    block = _block()
    block = block[block.index("system: keycrm") :]
    for name, field in KeyCRMSettings.model_fields.items():
        if name == "system":
            continue
        assert f"{name}:" in block, f"README's keyCRM block lacks {name}"
        default = field.get_default(call_default_factory=True)
        if default not in (None, "") and name != "api_key":
            shown = re.search(rf"{name}: ([^#\n]+?)\s+#\s*(default[^\n]*)", block)
            assert shown is not None and "default" in shown.group(2), name
