"""The store's one exception type."""

from __future__ import annotations


class StoreError(Exception):
    """A store operation cannot be done as asked (no such item, wrong state, bad argument)."""
