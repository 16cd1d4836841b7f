"""Commands that read the config and the hub store only: ``config check``, ``db``, ``queue``, ``journal``."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
import yaml

from deployments.cli.common import ConfigOpt, config_path, fail, load, open_store, show, table
from hub.config import find_config_path, redacted_dump

config_app = typer.Typer(help="Check the integration config.", no_args_is_help=True)
db_app = typer.Typer(help="The hub store (database).", no_args_is_help=True)
queue_app = typer.Typer(help="The exchange queue: outbound work, failures, retries.", no_args_is_help=True)

#: ``queue list --status failed``: items whose last attempt failed and are not done, that is pending
#: ones waiting for their next attempt and dead ones (out of attempts); not a stored status
FAILED = "failed"
JOURNAL_LEVELS = ("debug", "info", "warning", "error")


@config_app.command("check")
def config_check(config: ConfigOpt = None) -> None:
    """Validate the config, reporting every problem at once; print it with secrets redacted."""
    loaded = load(config)
    typer.echo(f"# {find_config_path(config_path(config))}: valid")
    typer.echo(yaml.safe_dump(redacted_dump(loaded), allow_unicode=True, sort_keys=False).rstrip())


@db_app.command("upgrade")
def db_upgrade(config: ConfigOpt = None) -> None:
    """Create or migrate the hub store to the current schema (a SQLite file's folder is created)."""
    store = open_store(config, create_dir=True)
    try:
        typer.echo(f"{store.dialect} store at revision {store.current_revision()} (head {store.head_revision()})")
    finally:
        store.close()


def _failed_items(store: Any, integration: str | None, kind: str | None, limit: int) -> list[Any]:
    from hub.store import QueueStatus

    found = [
        item
        for status in (QueueStatus.PENDING, QueueStatus.DEAD)
        for item in store.queue.list(integration=integration, kind=kind, status=status, limit=100_000)
        if status is QueueStatus.DEAD or item.last_error
    ]
    return sorted(found, key=lambda item: item.id, reverse=True)[:limit]


@queue_app.command("list")
def queue_list(
    config: ConfigOpt = None,
    integration: Annotated[str | None, typer.Option(help="only this integration")] = None,
    status: Annotated[
        str | None,
        typer.Option(help="pending | in_progress | done | dead | failed (pending after a failed attempt, or dead)"),
    ] = None,
    kind: Annotated[str | None, typer.Option(help="only this kind of work")] = None,
    limit: Annotated[int, typer.Option(help="rows at most")] = 50,
) -> None:
    """List exchange-queue items, newest work first, with counts by status."""
    from hub.store import QueueStatus

    known = [s.value for s in QueueStatus] + [FAILED]
    if status is not None and status not in known:
        raise fail(f"unknown status {status!r}; use one of {', '.join(known)}")
    store = open_store(config)
    try:
        counts = store.queue.counts(integration)
        typer.echo("counts: " + (", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "empty"))
        if status == FAILED:
            items = _failed_items(store, integration, kind, limit)
        else:
            wanted = QueueStatus(status) if status else None
            items = store.queue.list(integration=integration, kind=kind, status=wanted, limit=limit)
        if items:
            rows = table("id", "integration", "kind", "status", "tries", "last error", right=("id", "tries"))
            for item in items:
                error = (item.last_error or "").splitlines()[0][:60] if item.last_error else ""
                rows.add_row(
                    str(item.id),
                    item.integration,
                    item.kind,
                    QueueStatus(item.status).value,
                    f"{item.attempts}/{item.max_attempts}",
                    error,
                )
            show(rows)
    finally:
        store.close()


@queue_app.command("show")
def queue_show(item_id: int, config: ConfigOpt = None) -> None:
    """Show one queue item whole: payload, attempts, last error, result."""
    store = open_store(config)
    try:
        item = store.queue.get(item_id)
        if item is None:
            raise fail(f"no queue item {item_id}: `skladbridge queue list` shows the ids")
        data = {k: (v.value if hasattr(v, "value") else v) for k, v in vars(item).items()}
        typer.echo(json.dumps(data, default=str, ensure_ascii=False, indent=2))
    finally:
        store.close()


@queue_app.command("retry")
def queue_retry(
    item_id: Annotated[int | None, typer.Argument(help="the item to retry now")] = None,
    dead: Annotated[bool, typer.Option("--dead", help="retry every dead item")] = False,
    integration: Annotated[str | None, typer.Option(help="with --dead: only this integration")] = None,
    config: ConfigOpt = None,
) -> None:
    """Make a failed (pending after a failed attempt) or dead item due now; the next run sends it."""
    if item_id is None and not dead:
        raise fail("give an item id (see `skladbridge queue list --status failed`), or --dead to retry every dead item")
    store = open_store(config)
    try:
        if dead:
            typer.echo(f"{store.queue.retry_dead(integration=integration)} dead item(s) made due again")
        if item_id is not None:
            item = store.queue.retry(item_id)  # StoreError (done, running, unknown): one line, the error table
            typer.echo(f"item {item.id} is {item.status.value}, due now")
    finally:
        store.close()


def journal(
    config: ConfigOpt = None,
    integration: Annotated[str | None, typer.Option(help="only this integration")] = None,
    level: Annotated[str | None, typer.Option(help="this level and above: debug|info|warning|error")] = None,
    limit: Annotated[int, typer.Option(help="entries at most")] = 50,
) -> None:
    """Show what happened, newest first."""
    if level is not None and level.lower() not in JOURNAL_LEVELS:
        raise fail(f"unknown level {level!r}; use one of {', '.join(JOURNAL_LEVELS)}")
    store = open_store(config)
    try:
        entries = store.journal.list(integration=integration, level=level, limit=limit)
        if not entries:
            typer.echo("journal is empty")
            return
        rows = table("at", "level", "integration", "event", "message")
        for entry in entries:
            rows.add_row(
                entry.at.strftime("%Y-%m-%d %H:%M:%S"),
                entry.level,
                entry.integration or "-",
                entry.event,
                entry.message,
            )
        show(rows)
    finally:
        store.close()
