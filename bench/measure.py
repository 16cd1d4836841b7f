"""What a phase of the benchmark spent, read from the sandboxes' own request logs, and memory."""

from __future__ import annotations

import resource
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from connectors.http import endpoint_name
from connectors.moysklad.wire.limits import BAN_REFUSALS_PER_MINUTE
from connectors.sandboxing import LoggedRequest

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


@dataclass
class LogCount:
    """Requests one sandbox answered within a time window."""

    requests: int = 0
    weight: float = 0.0
    refused: int = 0  # 429 for MoySklad, 503 for retailCRM
    max_refused_per_minute: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    by_endpoint: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def count_log(entries: Iterable[LoggedRequest], since: float, until: float, refused_status: int) -> LogCount:
    """Count the entries logged in ``[since, until]``; ``weight`` is what the sandbox charged."""
    window = [e for e in entries if since <= e.at <= until]
    refusals = sorted(e.at for e in window if e.status == refused_status)
    return LogCount(
        requests=len(window),
        weight=float(sum(e.weight for e in window)),
        refused=len(refusals),
        max_refused_per_minute=max_in_window(refusals, 60.0),
        by_status={str(k): v for k, v in sorted(Counter(e.status for e in window).items())},
        by_endpoint=dict(Counter(endpoint_name(e.path) for e in window).most_common()),
    )


def max_in_window(times: list[float], seconds: float) -> int:
    """The most events in any window of ``seconds`` (``times`` sorted)."""
    best, inside = 0, deque[float]()
    for t in times:
        inside.append(t)
        while inside[0] < t - seconds:
            inside.popleft()
        best = max(best, len(inside))
    return best


def would_ban(count: LogCount) -> bool:
    """MoySklad switches a user off after more than 200 refused requests within a minute."""
    return count.max_refused_per_minute > BAN_REFUSALS_PER_MINUTE


def peak_rss_mb() -> float:
    """Peak resident set of this process so far (``ru_maxrss``, KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _status_kb(key: str) -> float | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(key + ":"):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def rss_mb() -> float | None:
    """Current resident set (``VmRSS``)."""
    kb = _status_kb("VmRSS")
    return None if kb is None else kb / 1024


def reset_phase_peak() -> bool:
    """Reset ``VmHWM`` (Linux >= 4.0: write 5 to clear_refs) so a phase's own peak can be read."""
    try:
        _CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


def phase_peak_mb() -> float | None:
    """``VmHWM``: the peak since the last :func:`reset_phase_peak` (or since start)."""
    kb = _status_kb("VmHWM")
    return None if kb is None else kb / 1024
