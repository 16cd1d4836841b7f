"""``skladbridge deploy``: the config's exchanges as Prefect deployments, or as a ``prefect.yaml``.

Registers on the Prefect server of ``PREFECT_API_URL`` (:mod:`deployments.schedule.deploy`) and prints one line
per deployment: created, updated, unchanged, paused, resumed or removed, with its period. Secrets
never appear: the deployments' parameters are the integration's name and the config's path only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from deployments.cli.common import ConfigOpt, fail, load, show, table


def deploy(
    config: ConfigOpt = None,
    pool: Annotated[
        str, typer.Option(help="the Prefect work pool (a process pool is created if missing)")
    ] = "skladbridge",
    worker_config: Annotated[
        str | None,
        typer.Option(
            help="the config path as the workers see it, passed to every run (default: this config's absolute "
            "path; `env`: none, the workers read $SKLADBRIDGE_CONFIG)"
        ),
    ] = None,
    write_prefect_yaml: Annotated[
        bool,
        typer.Option(
            "--write-prefect-yaml",
            help="write the deployments to PATH (default ./prefect.yaml) for "
            "`prefect deploy --all`, instead of registering them",
        ),
    ] = False,
    path: Annotated[
        Path | None, typer.Argument(help="with --write-prefect-yaml: the file to write", show_default=False)
    ] = None,
    template: Annotated[
        bool,
        typer.Option(
            "--template",
            help="with --write-prefect-yaml: no config, one on-demand deployment per exchange whose "
            "runs name their integration (the repository's prefect.yaml)",
        ),
    ] = False,
) -> None:
    """Register the config's deployments with Prefect: <exchange>/<integration>, scheduled by its periods.

    Re-running updates them, removes those of integrations that left the config, pauses those of an integration with active: false and resumes them when it is true again.
    """  # noqa: E501 - one paragraph: the help wraps it
    import deployments.schedule.deploy as deploying

    if (template or path) and not write_prefect_yaml:
        raise fail(
            "--template and a PATH go with --write-prefect-yaml: `skladbridge deploy --write-prefect-yaml "
            "[PATH] [--template]`"
        )
    if write_prefect_yaml:
        if template:
            planned = deploying.plan_template()
        else:
            loaded = load(config, require_secrets=False)
            planned = deploying.plan(loaded, deploying.config_parameter(loaded, worker_config))
        written = deploying.write_prefect_yaml(path or Path("prefect.yaml"), planned, pool)
        typer.echo(f"wrote {written}: {len(planned)} deployments; deploy them with `prefect --no-prompt deploy --all`")
        return

    loaded = load(config, require_secrets=False)  # the workers resolve secrets, in their environment
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    try:
        changes = deploying.deploy(loaded, pool=pool, worker_config=worker_config)
    except deploying.DeployError as exc:
        raise fail(str(exc)) from None
    except Exception as exc:
        import httpx

        if isinstance(exc, httpx.HTTPError):  # the server went away half-way
            raise fail(
                f"Prefect server {os.environ.get('PREFECT_API_URL', '')}: {exc}; run deploy again "
                "(it picks up where it stopped)"
            ) from None
        raise
    out = table("action", "deployment", "schedule")
    for change in changes:
        out.add_row(change.action, change.name, change.detail)
    show(out)
    counts = {
        action: sum(1 for c in changes if c.action.split(",")[0] == action)
        for action in ("created", "updated", "unchanged", "paused", "resumed", "removed")
    }
    typer.echo(", ".join(f"{n} {action}" for action, n in counts.items() if n) or "nothing to do")
