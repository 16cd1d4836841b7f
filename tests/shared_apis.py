"""The shared API references (``../shared/apis``) that the fidelity tests read.

They sit next to the repository, as CI has them. Without them, the tests that need them are skipped
on a developer's machine and fail under ``CI``, so CI can never pass by silently skipping them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_APIS = Path(__file__).resolve().parents[2] / "shared" / "apis"


def require(path: Path) -> Path:
    """``path``, or skip (fail under CI) when the shared references are not there."""
    if not path.exists():
        message = f"{path} not found: the shared API references belong next to the repository (../shared/apis)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message, allow_module_level=True)  # some modules read a sample at import
    return path
