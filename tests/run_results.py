"""What the tests read of an exchange run's result: the summary of a run that ran."""

from __future__ import annotations

from typing import Any

from hub.exchanges import RunResult, ran, skipped_reason


def summary_of(result: RunResult) -> dict[str, Any]:
    """The run's summary; fails the test when the run skipped (saying why)."""
    summary = ran(result)
    assert summary is not None, f"the run skipped: {skipped_reason(result)}"
    return summary
