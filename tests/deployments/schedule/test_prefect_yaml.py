"""What a user meets first: prefect.yaml deploys from a clone with nothing to set, its deployments name
flows that exist with parameters those flows take, and examples/demo.yaml says what it needs."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[3]
DEMO_YAML = REPO / "examples" / "demo.yaml"
#: what the demo's sandboxes would answer to; any well-formed values pass `config check`
DEMO_VALUES = {
    "SKLADBRIDGE_DEMO_DATABASE_URL": "sqlite:///{tmp}/skladbridge.db",
    "SKLADBRIDGE_DEMO_MS_URL": "http://127.0.0.1:1/api/remap/1.2",
    "SKLADBRIDGE_DEMO_MS_PASSWORD": "ms-password-value",
    "SKLADBRIDGE_DEMO_CRM_URL": "http://127.0.0.1:2",
    "SKLADBRIDGE_DEMO_CRM_KEY": "crm-key-value",
    "SKLADBRIDGE_DEMO_FEED_SECRET": "feed-secret-of-24-chars",
    "SKLADBRIDGE_DEMO_WEBHOOK_SECRET": "webhook-token-of-24-chars",
}


def _spec() -> dict[str, object]:
    spec = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))
    assert isinstance(spec, dict)
    return spec


def _demo_variables() -> list[str]:
    body = [line for line in DEMO_YAML.read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith("#")]
    return sorted(set(re.findall(r"\$\{(\w+)\}", "\n".join(body))))


def test_every_deployment_entrypoint_is_a_flow_with_matching_parameters() -> None:
    spec = _spec()
    assert spec["deployments"], "no deployments declared"
    for deployment in spec["deployments"]:  # type: ignore[attr-defined]
        path, name = deployment["entrypoint"].split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        flow = getattr(module, name)
        assert hasattr(flow, "fn"), f"{deployment['entrypoint']} is not a Prefect flow"
        accepted = set(inspect.signature(flow.fn).parameters)
        assert set(deployment.get("parameters", {})) <= accepted, deployment["name"]
        # only one full import per integration at a time: the queue release at start relies on it
        if deployment["name"] == "full-import":
            assert deployment["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}


def test_deploying_needs_no_environment_variable() -> None:
    """No step may read a variable the README's lines do not set (a worker failed with
    ``FileNotFoundError ... flows/healthcheck.py`` when ``$SKLADBRIDGE_HOME`` was unset).

    With no pull step, ``prefect deploy`` records the directory it runs in (the clone) and the
    worker starts the flow runs there.
    """
    spec = _spec()
    assert "pull" not in spec, "prefect deploy records the clone's directory itself: keep pull steps out"
    for section in ("build", "push"):
        assert "{{ $" not in yaml.safe_dump(spec.get(section)), f"{section} reads an environment variable"
    for deployment in spec["deployments"]:  # type: ignore[attr-defined]
        assert "pull" not in deployment, deployment["name"]
        assert "{{ $" not in yaml.safe_dump(deployment), deployment["name"]


def test_the_full_import_names_its_integration_or_one_an_example_has() -> None:
    """A default integration must exist in some example config; none is better than a wrong one."""
    examples = set()
    for path in (REPO / "examples").glob("*.yaml"):
        examples |= set((yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("integrations") or {})
    spec = _spec()
    full_import = next(d for d in spec["deployments"] if d["name"] == "full-import")  # type: ignore[attr-defined]
    default = (full_import.get("parameters") or {}).get("integration")
    assert default is None or default in examples, f"integration {default!r} is in no example config: {examples}"
    # required, then: the flow itself has no default either
    from flows.full_import import full_import as flow

    assert inspect.signature(flow.fn).parameters["integration"].default is inspect.Parameter.empty


def test_demo_yaml_and_readme_name_every_variable_the_demo_config_needs() -> None:
    variables = _demo_variables()
    assert variables == sorted(DEMO_VALUES), "the demo config's variables changed: update DEMO_VALUES and the docs"
    header = DEMO_YAML.read_text(encoding="utf-8").split("\ndatabase_url:")[0]
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name in variables:
        assert name in header, f"examples/demo.yaml's top comment does not name {name}"
        suffix = name.removeprefix("SKLADBRIDGE_DEMO")
        assert name in readme or f"`{suffix}`" in readme, f"README.md does not name {name}"
    assert "sandbox serve --world demo" in header and "skladbridge demo" in header


def test_config_check_on_the_demo_yaml_names_each_unset_variable_and_passes_when_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deployments.cli import app

    runner = CliRunner()
    for name in DEMO_VALUES:
        monkeypatch.delenv(name, raising=False)
    missing = runner.invoke(app, ["config", "check", "--config", str(DEMO_YAML)])
    assert missing.exit_code == 1
    for name in DEMO_VALUES:
        assert name in missing.output, f"{name} not named in:\n{missing.output}"

    for name, value in DEMO_VALUES.items():
        monkeypatch.setenv(name, value.format(tmp=tmp_path))
    ok = runner.invoke(app, ["config", "check", "--config", str(DEMO_YAML)])
    assert ok.exit_code == 0, ok.output
    assert "valid" in ok.output
    assert "ms-password-value" not in ok.output and "crm-key-value" not in ok.output
