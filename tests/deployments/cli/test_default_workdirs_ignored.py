"""What the CLI writes into a clone by default (the demo's and the sandbox world's workdirs) is ignored by git."""

from __future__ import annotations

import inspect
import shutil
import subprocess
from pathlib import Path

import pytest

import deployments.cli.run as cli_run

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("command", [cli_run.demo, cli_run.sandbox_serve], ids=["demo", "sandbox serve --world"])
def test_the_default_workdir_of_a_command_is_ignored_by_git(command: object) -> None:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    default = inspect.signature(command).parameters["workdir"].default  # type: ignore[arg-type]
    inside = Path(default) / "feeds" / "demo.xml"  # what the world writes, matched by no other rule
    # --no-index: ignored by the rules, whether or not something was committed there by mistake
    found = subprocess.run(["git", "check-ignore", "-q", "--no-index", str(inside)], cwd=REPO, check=False)
    assert found.returncode == 0, f"{default}/ is not in .gitignore"
