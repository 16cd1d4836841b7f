"""Order upload: the channel's new and changed orders reach the ERP exactly once (docs/orders.md).

A cycle reads the channel's order changes by the cursor, stages them in the hub, plans each order
that counts for upload (resolved and queued, or parked with a reason), moves the cursor, and sends
the queue in bulk: customers, then orders, then the ERP ids written back. It holds the ``orders``
run lock: a cycle that finds it taken says so and ends cleanly (the next one catches up). Orders
the ERP refused fail the run (they are dead queue items with the ERP's reason); parked orders do not
(they wait for the manager's fix, shown by ``skladbridge queue list``).
"""

from __future__ import annotations

from prefect import flow

from hub.exchanges import ORDER_UPLOAD, RunResult
from tasks.exchange import Exchange, Outcome, run_exchange
from tasks.orders.cycle import read_orders, upload_orders, upload_outcome
from tasks.orders.stage import OrderRun, plan_order_run


def upload(ex: Exchange[OrderRun]) -> Outcome:
    """Read the channel's changes and plan them, then send what is queued."""
    read = read_orders(ex.run)
    sent = upload_orders(ex.run)
    return upload_outcome(read, sent, ex.run.name)


@flow(name="order-upload", flow_run_name="order-upload/{integration}", log_prints=False)  # type: ignore[arg-type]
def order_upload(integration: str, config_path: str | None = None, trigger: str = "schedule") -> RunResult:
    """One order-upload cycle of ``integration``.

    Args:
        integration: the integration's name in the config.
        config_path: the config file (default: ``$SKLADBRIDGE_CONFIG`` or ``./skladbridge.yaml``).
        trigger: what started the cycle (``schedule``, ``poll``, ``cli``), for the summary.
    """
    return run_exchange(ORDER_UPLOAD, integration, config_path, plan_order_run, upload, trigger)
