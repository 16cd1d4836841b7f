"""Two-way sync: a channel and its ERP keep customers in step, and the ERP's order changes and retail
sales come back to the channel's orders (docs/two_way.md).

A cycle reads the changes the ERP's webhooks named (kept by the receiver) and the channel's customer
history, sets linked customers' changed fields on the other side, brings back the manager comment and
lines of orders changed in the ERP (the "accept changes" option), and applies retail sales to the
channel's orders, each once. It holds the ``two-way`` run lock: a cycle that finds it taken says so
and ends cleanly.
"""

from __future__ import annotations

from prefect import flow

from hub.exchanges import TWO_WAY_SYNC, RunResult
from tasks.exchange import Exchange, Outcome, run_exchange
from tasks.two_way.cycle import sync_two_way, two_way_outcome
from tasks.two_way.run import TwoWayRun, plan_two_way_run


def sync(ex: Exchange[TwoWayRun]) -> Outcome:
    """Customers both ways; order changes and retail sales back."""
    return two_way_outcome(sync_two_way(ex.run), ex.run.name)


@flow(name="two-way-sync", flow_run_name="two-way-sync/{integration}", log_prints=False)  # type: ignore[arg-type]
def two_way_sync(integration: str, config_path: str | None = None, trigger: str = "schedule") -> RunResult:
    """One two-way cycle of ``integration`` (``trigger``: schedule, webhook, cli, test)."""
    return run_exchange(TWO_WAY_SYNC, integration, config_path, plan_two_way_run, sync, trigger)
