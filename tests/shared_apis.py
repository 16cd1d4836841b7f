"""The vendors' published wire formats that the fidelity tests read (``tests/fixtures/apis``).

They live in the repository, so a clone on its own passes its tests; provenance is in that folder's
``README.md``.
"""

from __future__ import annotations

from pathlib import Path

SHARED_APIS = Path(__file__).resolve().parent / "fixtures" / "apis"


def require(path: Path) -> Path:
    """``path``, failing the test with the reason when a fixture the repository ships has gone missing."""
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: the API fixtures ship with the repository (tests/fixtures/apis)")
    return path
