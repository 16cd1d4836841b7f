"""Order upload: the channel's new and changed orders reach the ERP exactly once (docs/orders.md).

A cycle reads the channel's order changes by the cursor, stages them in the hub, plans each order
that counts for upload (resolved and queued, or parked with a reason), moves the cursor, and sends
the queue in bulk: customers, then orders, then the ERP ids written back. It holds the ``orders``
run lock: a cycle that finds it taken says so and ends cleanly (the next one catches up). Orders
the ERP refused fail the run (they are dead queue items with the ERP's reason); parked orders do not
(they wait for the manager's fix, shown by ``skladbridge queue list``).
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import asdict
from typing import Any

from prefect import flow, get_run_logger, tags

from connectors.http import request_stats
from hub.store import ExchangeBusyError
from tasks.hub_tasks import load_config_task, open_hub_store
from tasks.orders_cycle import read_orders, summary_rows, upload_orders
from tasks.orders_stage import ORDERS, plan_order_run
from tasks.publish import UploadsFailed
from tasks.reporting import publish_summary, requests_rows
from tasks.run_crashes import sweep_abandoned_runs

#: the run locks this flow takes (the CLI probes them before Prefect starts)
STREAMS = (ORDERS,)


@flow(name="order-upload", flow_run_name="order-upload/{integration}", log_prints=False)  # type: ignore[arg-type]
def order_upload(integration: str, config_path: str | None = None, trigger: str = "schedule") -> dict[str, Any]:
    """One order-upload cycle of ``integration``.

    Args:
        integration: the integration's name in the config.
        config_path: the config file (default: ``$SKLADBRIDGE_CONFIG`` or ``./skladbridge.yaml``).
        trigger: what started the cycle (``schedule``, ``poll``, ``cli``), for the summary.
    """
    logger = get_run_logger()
    started, before = time.monotonic(), request_stats().by_endpoint()
    config = load_config_task(config_path)
    store = open_hub_store(config)
    try:
        run = plan_order_run(config, integration, store)
        with ExitStack() as held:
            try:
                held.enter_context(store.locks.hold(integration, ORDERS))
            except ExchangeBusyError:
                message = "another run is uploading orders of this integration: this cycle is skipped"
                logger.info(message)
                store.journal.write(integration, "info", "order-upload.skipped", message)
                return {"integration": integration, "skipped": message}
            try:
                held.enter_context(tags(f"integration:{integration}", "order-upload"))
                sweep_abandoned_runs(integration)  # the lock is ours: a run still shown Running is dead
                released = store.queue.release(integration=integration, kind=ORDERS)
                read = read_orders(run)
                sent = upload_orders(run)
            except Exception as exc:
                store.journal.write(integration, "error", "order-upload.failed", f"order upload failed: {exc}")
                raise
        spent = request_stats().since(before)
        seconds = round(time.monotonic() - started, 2)
        rows = [*summary_rows(read, sent), *requests_rows(spent), {"what": "duration, s", "count": seconds}]
        publish_summary(f"order-upload-{integration}", rows,
                        f"Order upload of {integration} ({trigger}): {run.source} -> {run.target}")
        planned = read.planned
        summary: dict[str, Any] = {
            "integration": integration, "trigger": trigger, "first_read": read.first_read,
            "orders_read": read.orders_read, "eligible": read.eligible,
            "shared_credential_orders": list(read.shared_credential),
            "queued": planned.queued if planned else 0, "parked": planned.parked if planned else 0,
            "parked_reasons": dict(planned.reasons) if planned else {},
            "accepted": sent.accepted, "created": sent.created, "refused": sent.refused, "items_skipped": sent.skipped,
            "customers_found": sent.customers_found, "customers_created": sent.customers_created,
            "erp_ids_not_written": sent.erp_ids_not_written, "released_claims": released, "seconds": seconds,
            "requests": {system: asdict(spent.total(system)) for system in spent.systems()}, "rows": rows,
        }
        level = "error" if sent.refused else "warning" if summary["parked"] else "info"
        store.journal.write(integration, level, "order-upload.done",
                            f"order upload: {read.orders_read} orders read, {summary['queued']} queued, "
                            f"{summary['parked']} parked, {sent.accepted} accepted ({sent.created} new)",
                            {"trigger": trigger})
        if sent.refused:
            raise UploadsFailed(f"order upload of {integration}: {sent.refused} orders not accepted: "
                                f"{sent.errors[:3]}")
        return summary
    finally:
        store.close()
