"""Healthcheck: proves the wiring — the config loads, the store opens and migrates, every system of
every active integration answers our credentials, Prefect runs — and fails naming what does not."""

from __future__ import annotations

from typing import Any

from prefect import flow

from tasks.hub_tasks import check_store, check_systems, load_config_task
from tasks.reporting import publish_summary


class HealthcheckFailed(Exception):
    """Some system did not answer our credentials; the message names each and why."""


@flow(name="healthcheck", flow_run_name="healthcheck", log_prints=False)
def healthcheck(config_path: str | None = None) -> dict[str, Any]:
    """Load the config, open the hub store, call every system once; report, and fail on a failure."""
    config = load_config_task(config_path)
    report: dict[str, Any] = check_store(config)
    systems = check_systems(config)
    report.update({f"system {label}": result for label, result in systems.items()})
    publish_summary(
        "healthcheck",
        [{"check": key, "value": value} for key, value in report.items()],
        "Sklad Bridge healthcheck",
    )
    failed = [f"{label}: {result.removeprefix('failed: ')}" for label, result in systems.items()
              if result.startswith("failed")]
    if failed:
        raise HealthcheckFailed("systems that did not answer: " + "; ".join(failed))
    return report
