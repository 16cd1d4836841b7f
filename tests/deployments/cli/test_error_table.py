"""Every exception the CLI has a one-line message for still exists where the table says.

The table names classes by dotted path (so that the CLI starts without importing them); a class that
moved would silently fall back to the generic message.
"""

from __future__ import annotations

import importlib

import pytest

from deployments.cli.common import ERRORS


@pytest.mark.parametrize("dotted", [name for name, _ in ERRORS])
def test_each_class_the_error_table_names_exists_there(dotted: str) -> None:
    module, _, name = dotted.rpartition(".")
    found = getattr(importlib.import_module(module), name)
    assert isinstance(found, type) and issubclass(found, BaseException)
    assert f"{found.__module__}.{found.__qualname__}" == dotted, "the table matches by where a class is defined"
