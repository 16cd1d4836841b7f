"""Run summaries and progress as Prefect artifacts (the UI's view of an exchange)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, cast
from uuid import UUID

from prefect.artifacts import create_progress_artifact, create_table_artifact, update_progress_artifact
from prefect.context import FlowRunContext, TaskRunContext

from connectors.http import RequestStats, redact


def _in_run() -> bool:
    return FlowRunContext.get() is not None or TaskRunContext.get() is not None


def artifact_key(*parts: str) -> str:
    """Artifact keys allow lowercase letters, digits and dashes only."""
    return re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")


def publish_summary(key: str, rows: Sequence[Mapping[str, Any]], description: str) -> UUID | None:
    """Publish ``rows`` as a table artifact (a no-op outside a flow run, e.g. in unit tests)."""
    if not _in_run():
        return None
    safe_rows = [{k: redact(str(v)) if isinstance(v, str) else v for k, v in row.items()} for row in rows]
    # called from sync code, prefect's dual sync/async API returns the id itself
    artifact = create_table_artifact(table=list(safe_rows), key=artifact_key(key), description=redact(description))
    return cast(UUID, artifact)


def requests_rows(stats: RequestStats) -> list[dict[str, Any]]:
    """Summary rows of requests and weight spent per system (for the summary table)."""
    rows: list[dict[str, Any]] = []
    for system in stats.systems():
        total = stats.total(system)
        rows.append(
            {
                "what": f"requests: {system}",
                "count": total.requests,
                "weight": round(total.weight, 1),
                "rate refusals": total.rate_refusals,
                "server errors": total.server_errors,
            }
        )
    return rows


class Progress:
    """A progress artifact for long work; silently inactive outside a flow run."""

    def __init__(self, description: str) -> None:
        self._id: UUID | None = None
        self.description = description
        if _in_run():
            self._id = cast(UUID, create_progress_artifact(progress=0.0, description=description))

    def update(self, done: float, total: float) -> None:
        if self._id is not None and total > 0:
            update_progress_artifact(self._id, progress=min(100.0, 100.0 * done / total))
