"""One status-sync cycle: the ERP's changed order states set on the channel (:mod:`tasks.orders.status`)."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NONE

from hub.capabilities import OrderStates, StatusSink
from tasks.clients import with_capabilities
from tasks.exchange import Outcome
from tasks.orders.status import StatusResult, StatusRun, sync_states


@task(name="sync-statuses", cache_policy=NONE)
def sync_statuses(run: StatusRun) -> StatusResult:
    """Read the states changed since the cursor and set the mapped statuses where they differ."""

    return with_capabilities(
        run.integ,
        (run.source, OrderStates),
        (run.target, StatusSink),
        step=lambda states, sink: sync_states(run, states, sink),
    )


def status_outcome(result: StatusResult) -> Outcome:
    """The summary of one status-sync cycle: undefined and refused statuses warn (they are journaled)."""
    rows: list[dict[str, Any]] = [
        {"what": "order states read", "count": result.states_read},
        {"what": "of them orders from the channel", "count": result.ours},
        {"what": "statuses set on the channel", "count": result.sent},
        {"what": "statuses the channel has already", "count": result.unchanged},
        {"what": "states not mapped (undefined, journaled)", "count": len(result.undefined)},
        {"what": "statuses the channel refused (journaled)", "count": len(result.refused)},
    ]
    return Outcome(
        rows=rows,
        line=f"status sync: {result.states_read} states read, {result.sent} statuses set",
        level="warning" if result.undefined or result.refused else "info",
        summary={
            "states_read": result.states_read,
            "ours": result.ours,
            "sent": result.sent,
            "unchanged": result.unchanged,
            "undefined": dict(result.undefined),
            "refused": dict(result.refused),
        },
    )
