"""What the console asks of Prefect: an integration's deployments, their last runs, pausing and
resuming them (the Active switch) and starting a run of one (full import, reconciliation, backfill).

An integration's deployments are those ``skladbridge deploy`` and ``skladbridge serve`` register: tagged
``skladbridge`` and ``integration:<name>`` (:mod:`deployments.schedule.deploy`). Switching an integration
off does what ``deploy`` does for ``active: false``: each deployment paused and its schedules inactive;
on, the reverse. Every call is bounded; when no Prefect server answers the console says so instead
of failing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from deployments.schedule.deploy import INTEGRATION_TAG, TAG

#: seconds any one Prefect call may take before the console gives up on it
TIMEOUT = 5.0


class PrefectUnavailable(Exception):
    """No Prefect server answered; the message says where the console looked."""


@dataclass(frozen=True)
class LastRun:
    id: UUID
    name: str
    state: str
    at: datetime | None


@dataclass(frozen=True)
class DeploymentView:
    """One deployment of an integration as the console shows it."""

    id: UUID
    exchange: str  # the flow's name: full-import, stock-sync, ...
    name: str
    paused: bool
    schedules_active: bool
    last: LastRun | None


def api_url() -> str | None:
    from prefect.settings import get_current_settings

    return get_current_settings().api.url


def ui_url(configured: str | None) -> str | None:
    """Where the Prefect UI is: the config's ``console.prefect_ui_url``, else the API's URL without ``/api``."""
    if configured:
        return configured.rstrip("/")
    api = api_url()
    return api.removesuffix("/").removesuffix("/api") if api else None


def _client() -> Any:
    from prefect.client.orchestration import get_client

    if not api_url():
        raise PrefectUnavailable(
            "no Prefect API is configured (PREFECT_API_URL): start `skladbridge serve`, or point the "
            "console at your Prefect server"
        )
    os.environ.setdefault("PREFECT_API_REQUEST_TIMEOUT", str(TIMEOUT))
    return get_client(sync_client=True)


def _deployments(client: Any, integration: str) -> list[Any]:
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterTags

    tagged = DeploymentFilter(tags=DeploymentFilterTags(all_=[TAG, f"{INTEGRATION_TAG}{integration}"]))
    return list(client.read_deployments(deployment_filter=tagged))


def deployments_of(integration: str) -> list[DeploymentView]:
    """The integration's deployments with their last run (newest first by start), by exchange."""
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.client.schemas.sorting import FlowRunSort

    out: list[DeploymentView] = []
    try:
        with _client() as client:
            for d in _deployments(client, integration):
                runs = client.read_flow_runs(
                    deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[d.id])),
                    sort=FlowRunSort.EXPECTED_START_TIME_DESC,
                    limit=1,
                )
                last = None
                if runs:
                    r = runs[0]
                    last = LastRun(
                        r.id, r.name, r.state.name if r.state else "unknown", r.start_time or r.expected_start_time
                    )
                exchange = client.read_flow(d.flow_id).name
                active = all(s.active for s in d.schedules) if d.schedules else not d.paused
                out.append(DeploymentView(d.id, exchange, d.name, bool(d.paused), active, last))
    except PrefectUnavailable:
        raise
    except Exception as exc:
        raise PrefectUnavailable(f"the Prefect server at {api_url()} did not answer: {_first_line(exc)}") from None
    return sorted(out, key=lambda v: v.exchange)


def set_active(integration: str, active: bool) -> list[str]:
    """Pause (``active=False``) or resume every deployment of the integration, schedules included, as
    ``skladbridge deploy`` does for ``active: false``; returns the deployments changed."""
    changed: list[str] = []
    try:
        with _client() as client:
            for d in _deployments(client, integration):
                for schedule in d.schedules:
                    if schedule.active != active:
                        client.update_deployment_schedule(d.id, schedule.id, active=active)
                if bool(d.paused) == active:
                    (client.resume_deployment if active else client.pause_deployment)(d.id)
                    changed.append(f"{client.read_flow(d.flow_id).name}/{d.name}")
    except PrefectUnavailable:
        raise
    except Exception as exc:
        raise PrefectUnavailable(f"the Prefect server at {api_url()} did not answer: {_first_line(exc)}") from None
    return changed


def start_run(integration: str, exchange: str, parameters: dict[str, Any] | None = None) -> LastRun:
    """Start a run of the integration's ``exchange`` deployment (it shows in the Prefect UI).

    Raises:
        PrefectUnavailable: no server, or the integration has no such deployment (deploy or serve first).
    """
    try:
        with _client() as client:
            for d in _deployments(client, integration):
                if client.read_flow(d.flow_id).name == exchange:
                    run = client.create_flow_run_from_deployment(d.id, parameters=parameters or {}, tags=["console"])
                    return LastRun(
                        run.id, run.name, run.state.name if run.state else "Scheduled", run.expected_start_time
                    )
    except PrefectUnavailable:
        raise
    except Exception as exc:
        raise PrefectUnavailable(f"the Prefect server at {api_url()} did not answer: {_first_line(exc)}") from None
    raise PrefectUnavailable(
        f"{integration} has no {exchange} deployment on the Prefect server: "
        "run `skladbridge deploy` or `skladbridge serve`"
    )


def _first_line(exc: Exception) -> str:
    from connectors.http import first_line

    return first_line(exc)
