"""prefect.yaml names flows that exist, with parameters those flows take."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_every_deployment_entrypoint_is_a_flow_with_matching_parameters() -> None:
    spec = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))
    assert spec["deployments"], "no deployments declared"
    for deployment in spec["deployments"]:
        path, name = deployment["entrypoint"].split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        flow = getattr(module, name)
        assert hasattr(flow, "fn"), f"{deployment['entrypoint']} is not a Prefect flow"
        accepted = set(inspect.signature(flow.fn).parameters)
        assert set(deployment.get("parameters", {})) <= accepted, deployment["name"]
        # only one full import per integration at a time: the queue release at start relies on it
        if deployment["name"] == "full-import":
            assert deployment["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}
