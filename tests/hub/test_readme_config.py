"""The configuration the README shows is a valid config, as written."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from hub.config import parse_config

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_configuration_block_validates() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert blocks, "the README shows a configuration"
    config = parse_config(yaml.safe_load(blocks[0]), source="README.md", require_secrets=False)
    integ = config.integration("main")
    assert integ.options.stock.measure == "freeStock" and integ.systems["crm"].system == "retailcrm"
