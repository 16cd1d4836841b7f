"""The README's "Deploying with Prefect" lines, run as written against a real ``prefect server start``.

The lines are read from README.md, so the README cannot drift from what this test runs. Around them
the test does what the README's prose asks of the user: a Prefect server (its own, on a free loopback
port, with its own ``PREFECT_HOME``), the venv's ``bin`` on ``PATH``, the working directory at the
root of the clone, and the config and its variables in the environment: the demo's world of
``skladbridge sandbox serve --world demo`` (:func:`served_world`) and the ``export`` lines it prints,
applied as a shell would. A line ending in ``&`` runs in the
background (the worker); every other line must exit 0 (the last one waits for the flow run with
``--watch`` and fails unless it completed). Every process started here is stopped in ``finally``.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from deployments.demo.world import DEMO_INTEGRATION, served_world

REPO = Path(__file__).resolve().parents[3]
README = REPO / "README.md"
LINE_TIMEOUT = 180.0


def readme_prefect_lines() -> list[str]:
    """The commands of the ```bash block under "## Deploying with Prefect"."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Deploying with Prefect\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```bash\n(.*?)\n```", section, re.S)
    assert match, "no ```bash block in the README's Prefect section"
    return [line.strip() for line in match.group(1).splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_the_readme_block_deploys_runs_a_worker_and_a_full_import() -> None:
    lines = readme_prefect_lines()
    assert any(line.startswith("prefect work-pool create skladbridge") for line in lines)
    assert "prefect --no-prompt deploy --all" in lines
    assert any(line.startswith("prefect worker start --pool skladbridge") and line.endswith("&") for line in lines)
    assert lines[-1].startswith("prefect deployment run full-import/") and "--watch" in lines[-1]
    assert f"integration={DEMO_INTEGRATION}" in lines[-1]
    assert "SKLADBRIDGE_HOME" not in README.read_text(encoding="utf-8")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGINT to the process group (Prefect's servers and workers shut down their children on it)."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGINT)
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        except ProcessLookupError:
            pass
    # children that outlived their leader (a flow run) go with the group
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@contextmanager
def prefect_server(home: Path, log: Path, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """``prefect server start`` on a free loopback port with its own home; yields the API URL.

    ``extra_env``: more settings for the server, e.g. its database (SQLite in ``home`` by default)."""
    port = _free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        **(extra_env or {}),
    }
    env.pop("PREFECT_API_URL", None)
    with log.open("wb") as out:
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "prefect"),
                "server",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-ui",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    api = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, f"prefect server start exited:\n{log.read_text(errors='replace')}"
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"no /api/health in 120 s:\n{log.read_text(errors='replace')}"
            time.sleep(0.5)
        yield api
    finally:
        _stop(server)


def _tail(path: Path, chars: int = 6000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


@pytest.mark.slow
def test_readme_prefect_section_runs_as_written(tmp_path: Path) -> None:
    lines = readme_prefect_lines()
    started = time.monotonic()
    with (
        prefect_server(tmp_path / "prefect-home", tmp_path / "server.log") as api,
        served_world(tmp_path / "world", products=40) as world,
    ):
        exported = dict(shlex.split(line)[1].split("=", 1) for line in world.exports)
        assert "SKLADBRIDGE_CONFIG" in exported and set(world.env) <= set(exported)
        env = {
            **os.environ,
            **exported,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PREFECT_API_URL": api,
            "PREFECT_HOME": str(tmp_path / "prefect-home"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "PREFECT_WORKER_QUERY_SECONDS": "1",  # the default 10 s poll would only make this slower
        }
        background: list[subprocess.Popen[bytes]] = []
        try:
            for number, line in enumerate(lines):
                log = tmp_path / f"line{number}.log"
                command = shlex.split(line.removesuffix("&"))
                with log.open("wb") as out:
                    if line.endswith("&"):
                        background.append(
                            subprocess.Popen(
                                command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                            )
                        )
                        continue
                    try:
                        done = subprocess.run(
                            command,
                            cwd=REPO,
                            env=env,
                            stdout=out,
                            stderr=subprocess.STDOUT,
                            timeout=LINE_TIMEOUT,
                            check=False,
                        )
                    except subprocess.TimeoutExpired:
                        done = None
                if done is None or done.returncode != 0:
                    workers = "\n".join(
                        _tail(tmp_path / f"line{n}.log") for n, other in enumerate(lines) if other.endswith("&")
                    )
                    pytest.fail(
                        f"README line failed ({'timeout' if done is None else done.returncode}): {line}\n"
                        f"{_tail(log)}\n--- background:\n{workers}"
                    )
            # the run completed (`--watch` said so) and the CRM has what the import sent
            assert any(stores for stores in world.retailcrm.inventories.values()), "the CRM got no stock"
            assert world.retailcrm.offers, "the CRM got no catalog"
        finally:
            for process in background:
                _stop(process)
    print(f"README Prefect section end to end: {time.monotonic() - started:.1f} s")
