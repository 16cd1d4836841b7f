"""Healthcheck: proves the wiring — the config loads, the store opens and migrates, every system of
every active integration answers our credentials, Prefect runs — and fails naming what does not."""

from __future__ import annotations

from typing import Any

from prefect import flow

from tasks.hub_tasks import HealthcheckFailed, check_store, check_systems, load_config_task, report_health

__all__ = ["HealthcheckFailed", "healthcheck"]


@flow(name="healthcheck", flow_run_name="healthcheck", log_prints=False)
def healthcheck(config_path: str | None = None) -> dict[str, Any]:
    """Load the config, open the hub store, call every system once; report, and fail on a failure."""
    config = load_config_task(config_path)
    return report_health(check_store(config), check_systems(config))
