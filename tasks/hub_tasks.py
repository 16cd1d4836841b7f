"""Tasks that touch the hub itself: config and store."""

from __future__ import annotations

import asyncio
from typing import Any

from prefect import task

from connectors.http import first_line, redact
from hub.capabilities import Reachable
from hub.config import Config, load_config
from hub.store import Store, open_store
from tasks.clients import open_capability
from tasks.reporting import publish_summary


def open_hub_store(config: Config, *, create_dir: bool = False) -> Store:
    """Open (and migrate, on first use) the store the config names.

    A SQLite file's missing folder is created for the default file (next to the config) or with
    ``create_dir`` (``skladbridge db upgrade``); for a ``database_url`` that names one, a missing
    folder is an error: a mistyped path would otherwise give a new, empty hub that looks healthy.
    """
    return open_store(
        config.effective_database_url(),
        create_dir=create_dir or config.uses_default_database(),
        redact=redact,  # journal texts and queue errors are masked before they are written
        journal_retention_days=config.journal_retention_days,
        journal_retention_count=config.journal_retention_count,
    )


@task(name="load-config")
def load_config_task(config_path: str | None) -> Config:
    """Load and validate the integration config (fails the run with the config's own message)."""
    return load_config(config_path)


@task(name="check-store")
def check_store(config: Config) -> dict[str, Any]:
    """Open the store, report its schema revision, queue state and integrations."""
    store = open_hub_store(config)
    try:
        report: dict[str, Any] = {
            "database": store.dialect,
            "schema revision": store.current_revision(),
            "schema head": store.head_revision(),
            "integrations": ", ".join(sorted(config.integrations)) or "(none)",
            "active integrations": sum(1 for i in config.integrations.values() if i.active),
        }
        for status, count in sorted(store.queue.counts().items()):
            report[f"queue {status}"] = count
        revision = {"revision": report["schema revision"]}
        store.journal.write(None, "info", "healthcheck", "healthcheck passed", revision)
        return report
    finally:
        store.close()


@task(name="check-systems")
def check_systems(config: Config) -> dict[str, str]:
    """One cheap authenticated call to every system of every active integration, at once.

    Returns ``"<integration>.<alias> (<system>)" -> "ok: …" or "failed: …"``: a wrong password, a key
    without access, a closed port or an unset secret each say which system and why.
    """

    async def one(name: str, alias: str) -> tuple[str, str]:
        integ = config.integrations[name]
        label = f"{name}.{alias} ({integ.systems[alias].system})"
        try:
            async with open_capability(integ, alias, Reachable) as system:
                return label, f"ok: {await system.check_access()}"
        except Exception as exc:  # every failure is a line of the report, not a crash of the check
            return label, f"failed: {first_line(exc)}"

    async def every() -> list[tuple[str, str]]:
        return await asyncio.gather(
            *(
                one(name, alias)
                for name, integ in config.integrations.items()
                if integ.active
                for alias in integ.systems
            )
        )

    return dict(asyncio.run(every()))


class HealthcheckFailed(Exception):
    """Some system did not answer our credentials; the message names each and why."""


def report_health(store_report: dict[str, Any], systems: dict[str, str]) -> dict[str, Any]:
    """Publish the healthcheck's table; fail naming every system that did not answer."""
    report = {**store_report, **{f"system {label}": result for label, result in systems.items()}}
    publish_summary(
        "healthcheck", [{"check": key, "value": value} for key, value in report.items()], "Sklad Bridge healthcheck"
    )
    failed = [
        f"{label}: {result.removeprefix('failed: ')}"
        for label, result in systems.items()
        if result.startswith("failed")
    ]
    if failed:
        raise HealthcheckFailed("systems that did not answer: " + "; ".join(failed))
    return report
