"""The registry collects what connectors declare, and each declaration is backed by code."""

from __future__ import annotations

import pytest

from hub.config import ConfigError, parse_config
from hub.systems import READ_CAPABILITY, WRITE_CAPABILITY, UnknownSystemError, connector, known_systems


@pytest.mark.parametrize("name", known_systems())
def test_every_declared_capability_is_implemented(name: str) -> None:
    declared = connector(name)
    settings = declared.settings.model_construct(system=name)
    for capability, make in declared.capabilities.items():
        assert isinstance(make(None, settings), capability), f"{name}: {capability.__name__}"


def test_streams_follow_the_capabilities() -> None:
    assert connector("moysklad").streams("reads") == ["catalog", "prices", "statuses", "stock"]
    assert connector("moysklad").streams("writes") == ["orders"]
    assert connector("retailcrm").streams("reads") == ["orders"]
    assert connector("retailcrm").streams("writes") == ["catalog", "prices", "statuses", "stock"]
    assert set(READ_CAPABILITY) <= set(WRITE_CAPABILITY) | {"statuses"}


def test_an_unknown_system_names_the_known_ones() -> None:
    with pytest.raises(UnknownSystemError, match=r"known: \['keycrm', 'moysklad', 'retailcrm'"):
        connector("bitrix")
    with pytest.raises(ConfigError, match="unknown system 'bitrix'"):
        parse_config({"integrations": {"x": {"systems": {"a": {"system": "bitrix", "base_url": "http://a"}}}}})
