"""How a demo fails: it did not show what it says it shows (every pair's demo raises this)."""

from __future__ import annotations


class DemoError(RuntimeError):
    """The demo did not show what it says it shows."""
