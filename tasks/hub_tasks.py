"""Tasks that touch the hub itself: config and store."""

from __future__ import annotations

from typing import Any

from prefect import task

from connectors.http import redact
from hub.config import Config, load_config
from hub.store import Store, open_store


def open_hub_store(config: Config) -> Store:
    """Open (and migrate, on first use) the store the config names."""
    return open_store(
        config.effective_database_url(),
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
