"""Healthcheck: proves the wiring (config loads, store opens and migrates, Prefect runs)."""

from __future__ import annotations

from typing import Any

from prefect import flow

from tasks.hub_tasks import check_store, load_config_task
from tasks.reporting import publish_summary


@flow(name="healthcheck", log_prints=False)
def healthcheck(config_path: str | None = None) -> dict[str, Any]:
    """Load the config, open the hub store and report what is there."""
    config = load_config_task(config_path)
    report = check_store(config)
    publish_summary(
        "healthcheck",
        [{"check": key, "value": value} for key, value in report.items()],
        "Sklad Bridge healthcheck",
    )
    return report
