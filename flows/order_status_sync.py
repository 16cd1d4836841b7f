"""Order statuses back: the ERP's order state changes reach the channel as the mapped statuses.

A cycle reads the orders whose state changed since the last one (with an overlap) and sets the mapped
status on the channel where it differs (:mod:`tasks.orders.status`). It holds the ``statuses`` run lock:
a cycle that finds it taken says so and ends cleanly. Undefined states (no mapping) are journaled and
applied by the first cycle after they are mapped; statuses the channel refused are journaled.
"""

from __future__ import annotations

from prefect import flow

from hub.exchanges import ORDER_STATUS_SYNC, RunResult
from tasks.exchange import Exchange, Outcome, run_exchange
from tasks.orders.status import StatusRun, plan_status_run
from tasks.orders.status_cycle import status_outcome, sync_statuses


def set_statuses(ex: Exchange[StatusRun]) -> Outcome:
    """Read the changed states and set the mapped statuses."""
    return status_outcome(sync_statuses(ex.run))


@flow(name="order-status-sync", flow_run_name="order-status-sync/{integration}", log_prints=False)  # type: ignore[arg-type]
def order_status_sync(integration: str, config_path: str | None = None, trigger: str = "schedule") -> RunResult:
    """One status-sync cycle of ``integration`` (``trigger``: schedule, webhook, cli)."""
    return run_exchange(ORDER_STATUS_SYNC, integration, config_path, plan_status_run, set_statuses, trigger)
