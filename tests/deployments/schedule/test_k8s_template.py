"""The Kubernetes work pool's base job template: what Prefect requires of one, and what it sets for a run."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

from deployments.schedule.deploy import POOL

TEMPLATE = Path(__file__).resolve().parents[3] / "deployments" / "k8s" / "base-job-template.json"


def template() -> dict[str, Any]:
    loaded = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_prefect_accepts_it_as_a_base_job_template() -> None:
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.server.schemas.actions import validate_base_job_template
    from prefect.utilities.templating import find_placeholders

    base = template()
    assert set(base) == {"job_configuration", "variables"}
    validate_base_job_template(base)  # the server's check: every {{ placeholder }} is a declared variable
    used = {p.name for p in find_placeholders(json.dumps(base["job_configuration"]))}
    declared = set(base["variables"]["properties"])
    assert used == declared, f"declared but never used: {declared - used}"
    # the keys Prefect's kubernetes worker reads from the job configuration
    assert {
        "command",
        "env",
        "labels",
        "name",
        "namespace",
        "job_manifest",
        "cluster_config",
        "job_watch_timeout_seconds",
        "pod_watch_timeout_seconds",
        "stream_output",
    } <= set(base["job_configuration"])
    WorkPoolCreate(name=POOL, type="kubernetes", base_job_template=base)


def test_a_run_gets_the_config_path_the_secret_and_resources() -> None:
    from prefect.utilities.templating import apply_values

    base = template()
    defaults = {name: spec["default"] for name, spec in base["variables"]["properties"].items() if "default" in spec}
    rendered = apply_values(base["job_configuration"], defaults)
    manifest = rendered["job_manifest"]
    assert manifest["kind"] == "Job" and manifest["spec"]["backoffLimit"] == 0  # Prefect retries, not Kubernetes
    pod = manifest["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    config = PurePosixPath(container["env"]["SKLADBRIDGE_CONFIG"])
    (mount,) = container["volumeMounts"]
    assert config.parent == PurePosixPath(mount["mountPath"]) and mount["readOnly"]
    (volume,) = pod["volumes"]
    assert volume["name"] == mount["name"] and volume["configMap"]["name"] == "skladbridge-config"
    assert container["envFrom"] == [{"secretRef": {"name": "skladbridge-secrets"}}]
    assert container["resources"] == {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}}
    assert manifest["spec"]["activeDeadlineSeconds"] == 21600 and manifest["metadata"]["namespace"] == "skladbridge"
    # nothing secret has a default value in the template
    assert not any(key for key in container["env"] if any(w in key for w in ("PASSWORD", "KEY", "TOKEN", "SECRET")))
