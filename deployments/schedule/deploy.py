"""``skladbridge deploy``: every exchange of every integration as a Prefect deployment, from the config.

One deployment per integration and exchange (:data:`deployments.schedule.exchanges.EXCHANGES`), named
``<exchange>/<integration>`` (Prefect's flow name / deployment name), tagged ``skladbridge``, the
exchange and ``integration:<name>``, scheduled by the integration's ``periods``, its parameters the
integration and the config path, at most one run at a time (a run due while one is running is
cancelled: ``CANCEL_NEW``). The config-wide healthcheck comes once, on demand.

* :func:`plan` - what the deployments should be (pure: no Prefect, no network);
* :func:`build_deployments` - them as Prefect ``RunnerDeployment`` objects, for ``prefect.serve``
  (``skladbridge serve``) or :func:`deploy`;
* :func:`deploy` - registers them on the Prefect server of ``PREFECT_API_URL``, on the ``skladbridge``
  work pool (a process pool, created if missing): re-running updates in place, deployments of
  integrations that left the config are deleted (found by their ``integration:`` tag), an integration
  with ``active: false`` — or switched off in the console, which wins over the file — keeps its
  deployments paused (deployment paused, schedules inactive);
* :func:`prefect_yaml` - the same plan as a ``prefect.yaml`` for ``prefect deploy --all``.

A ``skladbridge`` deployment is one this module made: every ``skladbridge``-tagged deployment with an
``integration:`` tag on the server is taken as ours (one config per Prefect server; see the README).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID
from zoneinfo import ZoneInfo

import yaml

from deployments.schedule.exchanges import EXCHANGES, Exchange
from hub.config import Config
from hub.periods import Period

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.responses import DeploymentResponse
    from prefect.deployments.runner import RunnerDeployment

POOL = "skladbridge"
TAG = "skladbridge"
INTEGRATION_TAG = "integration:"
#: the oldest Prefect the project supports (pyproject's pin); what prefect.yaml records
PREFECT_VERSION = "3.8.8"
#: interval schedules count from here (in the integration's time zone): runs fall on round times
#: (:00, :10, ...) and redeploying does not move them
ANCHOR = datetime(2025, 1, 1)


class DeployError(Exception):
    """The deployments cannot be registered (no Prefect server, ...); the message says what to do."""


@dataclass(frozen=True)
class Planned:
    """One deployment as it should be."""

    exchange: Exchange
    #: the deployment's name: its integration's, or the exchange's own (healthcheck, template)
    name: str
    integration: str | None
    period: Period
    timezone: str = "UTC"
    paused: bool = False
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.exchange.name}/{self.name}"

    @property
    def tags(self) -> list[str]:
        return [TAG, self.exchange.name, *([f"{INTEGRATION_TAG}{self.integration}"] if self.integration else [])]

    @property
    def slug(self) -> str:
        return f"{self.exchange.name}-period"

    @property
    def description(self) -> str:
        when = self.period.describe() + (f" {self.timezone}" if self.period.cron else "")
        paused = "; paused: the integration is not active" if self.paused else ""
        return f"{self.exchange.description} ({when}{paused})"

    def anchor(self) -> datetime:
        return ANCHOR.replace(tzinfo=ZoneInfo(self.timezone))


def plan(config: Config, config_param: str | None) -> list[Planned]:
    """The deployments of ``config``: per integration, each exchange it has the flows for; then the healthcheck.

    Args:
        config_param: the ``config_path`` parameter of every deployment (where the workers read the
            config); None leaves it to the workers' ``$SKLADBRIDGE_CONFIG``.
    """
    planned: list[Planned] = []
    for name, integ in config.integrations.items():
        for exchange in EXCHANGES:
            if exchange.period is None or not all(integ.edge(stream) for stream in exchange.needs):
                continue
            planned.append(
                Planned(
                    exchange,
                    name,
                    name,
                    integ.periods.of(exchange.period),
                    integ.periods.timezone,
                    paused=not integ.active,
                    parameters=exchange.parameters(name, config_param),
                )
            )
    planned += [
        Planned(e, e.name, None, Period(None), parameters=e.parameters(None, config_param))
        for e in EXCHANGES
        if e.period is None
    ]
    return planned


def as_switched(config: Config) -> Config:
    """``config`` with the console's Active switches over the file's ``active:`` (:mod:`hub.switches`),
    read from the integrations' hub store: a pause set in the console outlives ``serve`` and ``deploy``."""
    from hub.switches import with_switches
    from tasks.hub_tasks import open_hub_store

    store = open_hub_store(config)
    try:
        return with_switches(config, store)
    finally:
        store.close()


def plan_template() -> list[Planned]:
    """The repository's ``prefect.yaml``: one on-demand deployment per exchange, named after it, whose
    runs name their integration (``--param integration=...``); no config needed."""
    return [Planned(e, e.name, None, Period(None), parameters=e.parameters(None, None)) for e in EXCHANGES]


def config_parameter(config: Config, worker_config: str | None = None) -> str | None:
    """The ``config_path`` the deployments pass: ``worker_config`` if given (``env``: none, the workers'
    ``$SKLADBRIDGE_CONFIG``), else the absolute path of the config read here."""
    if worker_config is not None:
        return None if worker_config in ("", "env") else worker_config
    return str(Path(config.source).resolve()) if config.source else None


# -- Prefect objects ------------------------------------------------------------------------------


def build_deployments(
    config: Config, config_path: str | Path | None = None, *, worker_config: str | None = None
) -> list[RunnerDeployment]:
    """Every deployment of ``config`` as a ``RunnerDeployment`` (no work pool set: ``prefect.serve``
    runs them in its own process; :func:`deploy` applies them to the work pool).

    Args:
        config_path: where the flow runs read the config (default: the file ``config`` was read from).
        worker_config: overrides it (see :func:`config_parameter`).
    """
    if worker_config is None and config_path is not None:
        worker_config = str(Path(config_path).resolve())
    return [runner_deployment(p) for p in plan(config, config_parameter(config, worker_config))]


def runner_deployment(planned: Planned) -> RunnerDeployment:
    from prefect.client.schemas.objects import ConcurrencyLimitConfig
    from prefect.deployments.runner import EntrypointType, RunnerDeployment

    deployment = RunnerDeployment.from_flow(
        planned.exchange.load(),
        name=planned.name,
        schedules=schedules(planned),
        paused=planned.paused,
        concurrency_limit=ConcurrencyLimitConfig(limit=1, collision_strategy="CANCEL_NEW"),  # type: ignore[arg-type]
        parameters=planned.parameters,
        description=planned.description,
        tags=planned.tags,
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    # the module path of the exchange, not of the function: stock-reconcile is stock_sync renamed
    deployment.entrypoint = planned.exchange.module_entrypoint
    return deployment


def schedules(planned: Planned) -> list[Any]:
    from prefect.schedules import Cron, Interval

    period, active = planned.period, not planned.paused
    if period.seconds is not None:
        return [
            Interval(
                timedelta(seconds=period.seconds),
                anchor_date=planned.anchor(),
                timezone=planned.timezone,
                active=active,
                slug=planned.slug,
            )
        ]
    if period.cron is not None:
        return [Cron(period.cron, timezone=planned.timezone, active=active, slug=planned.slug)]
    return []


# -- registering --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """What :func:`deploy` did to one deployment (or the work pool)."""

    action: str  # created, updated, unchanged, paused, resumed, removed, pool created
    name: str
    detail: str = ""


def deploy(config: Config, *, pool: str = POOL, worker_config: str | None = None) -> list[Change]:
    """Register ``config``'s deployments with the Prefect server of ``PREFECT_API_URL``; return what changed.

    Raises:
        DeployError: no Prefect API configured or none answering.
    """
    from prefect.client.orchestration import get_client

    from connectors.http import first_line

    api = _api_url()
    planned = plan(as_switched(config), config_parameter(config, worker_config))
    changes: list[Change] = []
    with get_client(sync_client=True) as client:
        problem = client.api_healthcheck()
        if problem is not None:
            raise DeployError(
                f"no Prefect server answers at {api} ({first_line(problem)}); start it "
                "(`prefect server start`) or point PREFECT_API_URL at yours"
            )
        changes += _ensure_pool(client, pool)
        before = {_full_name(client, d): d for d in _ours(client)}
        for item in planned:
            old = before.get(item.full_name)
            deployment = runner_deployment(item)
            deployment_id = deployment.apply(work_pool_name=pool)
            assert isinstance(deployment_id, UUID)  # apply is sync here (async_dispatch)
            now = client.read_deployment(deployment_id)
            if not item.period.scheduled:
                # Prefect keeps the old schedules when told "none" (an empty list): remove them here
                for schedule in now.schedules:
                    client.delete_deployment_schedule(deployment_id, schedule.id)
                now = client.read_deployment(deployment_id)
            changes.append(Change(_action(old, now, item), item.full_name, _detail(item)))
        wanted = {item.full_name for item in planned}
        for name, old in sorted(before.items()):
            if name not in wanted and any(t.startswith(INTEGRATION_TAG) for t in old.tags):
                client.delete_deployment(old.id)
                changes.append(Change("removed", name, "its integration or exchange left the config"))
    return changes


def _api_url() -> str:
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    if not url:
        raise DeployError(
            "PREFECT_API_URL is not set: deployments need a Prefect server that stays up; start "
            "`prefect server start` and `prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api`"
        )
    return str(url)


def _ensure_pool(client: SyncPrefectClient, pool: str) -> list[Change]:
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound
    from prefect.workers.process import ProcessWorker

    try:
        existing = client.read_work_pool(pool)
    except ObjectNotFound:
        client.create_work_pool(
            WorkPoolCreate(
                name=pool,
                type="process",
                base_job_template=ProcessWorker.get_default_base_job_template(),
                description="Sklad Bridge exchanges (skladbridge deploy)",
            )
        )
        return [Change("created", f"work pool {pool}", "process: start `prefect worker start --pool " + pool + "`")]
    return [Change("unchanged", f"work pool {pool}", f"{existing.type}")]


def _ours(client: SyncPrefectClient) -> list[DeploymentResponse]:
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterTags

    return list(client.read_deployments(deployment_filter=DeploymentFilter(tags=DeploymentFilterTags(all_=[TAG]))))


_FLOW_NAMES: dict[Any, str] = {}


def _full_name(client: SyncPrefectClient, deployment: DeploymentResponse) -> str:
    if deployment.flow_id not in _FLOW_NAMES:
        _FLOW_NAMES[deployment.flow_id] = client.read_flow(deployment.flow_id).name
    return f"{_FLOW_NAMES[deployment.flow_id]}/{deployment.name}"


def signature(deployment: DeploymentResponse) -> tuple[Any, ...]:
    """What a user sees of a deployment (for "unchanged")."""
    options, limit = deployment.concurrency_options, deployment.global_concurrency_limit
    return (
        deployment.paused,
        sorted(deployment.tags),
        deployment.parameters,
        deployment.entrypoint,
        deployment.work_pool_name,
        deployment.description,
        limit.limit if limit else None,
        options.collision_strategy if options else None,
        sorted((s.slug or "", s.active, s.schedule.model_dump_json()) for s in deployment.schedules),
    )


def _action(old: DeploymentResponse | None, now: DeploymentResponse, item: Planned) -> str:
    if old is None:
        return "created, paused" if item.paused else "created"
    if old.paused != now.paused:
        return "paused" if now.paused else "resumed"
    return "unchanged" if signature(old) == signature(now) else "updated"


def _detail(item: Planned) -> str:
    when = item.period.describe() + (f" {item.timezone}" if item.period.cron else "")
    return when + ("; integration inactive" if item.paused else "")


# -- prefect.yaml ---------------------------------------------------------------------------------

HEADER = """\
# Prefect deployments of Sklad Bridge, for teams who deploy with `prefect deploy --all`.
# Generated: do not edit. This file is `skladbridge deploy --write-prefect-yaml prefect.yaml --template`
# (one on-demand deployment per exchange, its runs naming their integration); with your config,
# `skladbridge deploy --write-prefect-yaml PATH` writes one deployment per integration and exchange,
# scheduled by the config's periods - the same deployments `skladbridge deploy` registers directly.
# From the repository root, with a Prefect server running:
#   prefect work-pool create skladbridge --type process --overwrite
#   prefect --no-prompt deploy --all
#   prefect worker start --pool skladbridge
# There is no pull step on purpose: `prefect deploy` then records the directory it runs in (this
# checkout) and the worker starts every flow run there, with no variable to set. A worker on another
# machine needs its own pull step (git_clone, or set_working_directory to where the code is).
# The flows read the integration config from $SKLADBRIDGE_CONFIG (or ./skladbridge.yaml in the
# checkout) and the variables it references, from the worker's environment. Every run names its
# integration (a required parameter: there is no sensible default for a config we have not seen;
# the demo's is `demo`). At most one run of a deployment at a time: a run due while one is running is
# cancelled (CANCEL_NEW), and the flows' run locks in the hub keep other starts from overlapping.
"""


def prefect_yaml(planned: Iterable[Planned], pool: str = POOL, header: str = HEADER) -> str:
    """``prefect.yaml`` with ``planned``'s deployments (entrypoints as paths from the repository root)."""
    deployments = []
    for item in planned:
        entry: dict[str, Any] = {
            "name": item.name,
            "description": item.description,
            "entrypoint": item.exchange.entrypoint,
        }
        if item.parameters:
            entry["parameters"] = item.parameters
        entry["work_pool"] = {"name": pool}
        entry["concurrency_limit"] = {"limit": 1, "collision_strategy": "CANCEL_NEW"}
        entry["tags"] = item.tags
        if item.paused:
            entry["paused"] = True
        if item.period.scheduled:
            schedule: dict[str, Any] = (
                {"interval": item.period.seconds, "anchor_date": item.anchor().isoformat()}
                if item.period.seconds is not None
                else {"cron": item.period.cron}
            )
            schedule.update({"timezone": item.timezone, "active": not item.paused, "slug": item.slug})
            entry["schedules"] = [schedule]
        deployments.append(entry)
    body = yaml.dump(
        {"name": "skladbridge", "prefect-version": PREFECT_VERSION, "deployments": deployments},
        Dumper=_IndentedDumper,
        sort_keys=False,
        allow_unicode=True,
        width=120,
    )
    # a blank line between deployments, as a person would write it
    return header + body.replace("\n  - name:", "\n\n  - name:").replace("deployments:\n\n", "deployments:\n")


class _IndentedDumper(yaml.SafeDumper):
    """Lists indented under their key (``deployments:\n  - name: ...``), as prefect.yaml is written by hand."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def write_prefect_yaml(path: Path, planned: Iterable[Planned], pool: str = POOL) -> Path:
    path.write_text(prefect_yaml(planned, pool), encoding="utf-8")
    return path
