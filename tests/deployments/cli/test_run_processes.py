"""What a run leaves behind as processes: nothing once it is killed, nothing at all when it is refused.

These start the CLI as a real process, because the promises are about processes: a ``skladbridge run``
killed with SIGKILL or SIGTERM leaves no Prefect server running, and a run refused by the run lock
never starts one. Processes are read from ``/proc`` (Linux; psutil is not a dependency).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
GUARD = REPO / "deployments" / "schedule" / "die_with_parent.py"
SERVER_APP = "prefect.server.api.server:create_app"

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc (Linux)")

CONFIG = """
database_url: sqlite:///{db}
integrations:
  main:
    systems:
      # loopback ports nobody listens on: a healthcheck that gets this far calls no outside host
      ms:  {{system: moysklad, base_url: "http://127.0.0.1:9/api/remap/1.2", token: "${{RUN_TEST_MS_TOKEN}}"}}
      crm: {{system: retailcrm, base_url: "http://127.0.0.1:9", api_key: "${{RUN_TEST_CRM_KEY}}"}}
    flows:
      catalog: {{from: ms, to: crm}}
"""


@dataclass(frozen=True)
class Proc:
    """A process by id and start time (a pid alone may be reused)."""

    pid: int
    started: int

    def alive(self) -> bool:
        stat = _stat(self.pid)
        return stat is not None and stat[2] == self.started and stat[1] not in ("Z", "X")

    def cmdline(self) -> str:
        try:
            return Path(f"/proc/{self.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return ""


def _stat(pid: int) -> tuple[int, str, int] | None:
    """(parent pid, state, start time) of ``pid``, or None when there is no such process."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2 :].split()  # after "pid (comm) ", comm may hold spaces
    return int(fields[1]), fields[0], int(fields[19])


def descendants(root: int) -> set[Proc]:
    """Every live process below ``root`` (children, their children, ...)."""
    children: dict[int, list[Proc]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None and stat[1] not in ("Z", "X"):
            children.setdefault(stat[0], []).append(Proc(int(entry), stat[2]))
    found: set[Proc] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child.pid)
    return found


def _kill_all(procs: set[Proc]) -> None:
    for proc in procs:
        if proc.alive():
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture
def cli_env(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A config with a SQLite hub, and the environment of a CLI process with no Prefect API set."""
    config = tmp_path / "skladbridge.yaml"
    config.write_text(CONFIG.format(db=tmp_path / "hub.db"), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_PROFILE")}
    env.update(
        {
            "RUN_TEST_MS_TOKEN": "ms-token",
            "RUN_TEST_CRM_KEY": "crm-key",
            "PREFECT_HOME": str(tmp_path / "prefect-home"),  # its own: shows whether a server ever started
            "PYTHONPATH": str(REPO),
        }
    )
    return config, env


@pytest.fixture
def spawned() -> Iterator[set[Proc]]:
    """Processes a test saw; whatever still lives at the end is killed (the old code left them)."""
    seen: set[Proc] = set()
    yield seen
    _kill_all(seen)


def start_cli(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "deployments.cli", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _output(cli: subprocess.Popen[str]) -> str:
    if cli.poll() is None:
        cli.kill()
    out, err = cli.communicate(timeout=30)
    return f"exit {cli.returncode}\nstdout:\n{out}\nstderr:\n{err}"


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_killed_run_leaves_no_process_behind(
    tmp_path: Path, cli_env: tuple[Path, dict[str, str]], spawned: set[Proc], sig: signal.Signals
) -> None:
    config, env = cli_env
    cli = start_cli(tmp_path, env, "run", "healthcheck", "--config", str(config))
    spawned.add(Proc(cli.pid, _stat(cli.pid)[2]))  # type: ignore[index]
    try:
        # wait for the Prefect server process, then give it a second: it is then well into its
        # start-up (a cold database takes ~15 s), and the CLI is waiting for it
        server_seen: float | None = None
        deadline = time.monotonic() + 120
        while server_seen is None or time.monotonic() < server_seen + 1.0:
            assert cli.poll() is None, "the CLI ended before it was killed:\n" + _output(cli)
            assert time.monotonic() < deadline, "no Prefect server process appeared:\n" + _output(cli)
            below = descendants(cli.pid)
            spawned.update(below)
            if server_seen is None and any(SERVER_APP in proc.cmdline() for proc in below):
                server_seen = time.monotonic()
            time.sleep(0.05)
        spawned.update(descendants(cli.pid))
        os.kill(cli.pid, sig)
        cli.wait(timeout=30)
        # the kernel (Linux) kills the server at once; the portable watcher within half a second
        deadline = time.monotonic() + 5
        while any(proc.alive() for proc in spawned) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = {proc.pid: proc.cmdline()[:200] for proc in spawned if proc.alive()}
        assert not left, f"still running after the CLI got {sig.name}: {left}"
    finally:
        # survivors first: an orphaned server holds the CLI's output pipes open
        _kill_all(spawned)
        cli.communicate(timeout=30)


def test_a_second_run_is_refused_before_prefect_starts(
    tmp_path: Path, cli_env: tuple[Path, dict[str, str]], spawned: set[Proc]
) -> None:
    from hub.exchanges import FULL_IMPORT
    from hub.store import open_store

    config, env = cli_env
    store = open_store(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        with store.locks.hold("main", *FULL_IMPORT.locks):  # a run of "main" in progress
            cli = start_cli(tmp_path, env, "run", "full-import", "--integration", "main", "--config", str(config))
            deadline = time.monotonic() + 120
            while cli.poll() is None and time.monotonic() < deadline:
                spawned.update(descendants(cli.pid))
                time.sleep(0.05)
            output = _output(cli)
    finally:
        store.close()
    assert cli.returncode == 1, output
    assert "already publishing" in output and "Traceback" not in output, output
    # refused before Prefect's server: no child process ever, no Prefect database created
    assert not spawned, f"the refused run started {[p.cmdline()[:200] for p in spawned]}\n{output}"
    assert not (tmp_path / "prefect-home" / "prefect.db").exists(), output


SLEEPER = "import time\ntime.sleep(120)\n"
PARENT = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, sys.argv[1], "--parent", str(os.getpid()), *sys.argv[2:], "--", "sleeper"])
print(child.pid, flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("options", [["--pdeathsig"], []], ids=["pdeathsig", "watcher-only"])
def test_the_guard_kills_its_module_when_the_parent_dies(
    tmp_path: Path, spawned: set[Proc], options: list[str]
) -> None:
    """Both ways the guard works: the kernel's parent-death signal (Linux), the polling watcher (any OS)."""
    (tmp_path / "sleeper.py").write_text(SLEEPER, encoding="utf-8")  # found on the working directory
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(GUARD), *options], cwd=tmp_path, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        child_pid = int(parent.stdout.readline())
        time.sleep(0.5)  # the guard is set up before the module is even imported
        child = Proc(child_pid, _stat(child_pid)[2])  # type: ignore[index]
        spawned.add(child)
        assert child.alive() and "sleeper" in child.cmdline()
        parent.kill()
        parent.wait(timeout=10)
        deadline = time.monotonic() + 3
        while child.alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not child.alive()
    finally:
        if parent.poll() is None:
            parent.kill()
        parent.communicate(timeout=10)


def test_a_closed_port_is_refused_before_prefect_starts(
    tmp_path: Path, cli_env: tuple[Path, dict[str, str]], spawned: set[Proc]
) -> None:
    """The systems of the exchange are called once before Prefect's server starts (its start-up is
    the slowest part of a run): a closed port (here port 9) ends the command with its one line."""
    config, env = cli_env
    cli = start_cli(tmp_path, env, "run", "full-import", "--integration", "main", "--config", str(config))
    deadline = time.monotonic() + 120
    while cli.poll() is None and time.monotonic() < deadline:
        spawned.update(descendants(cli.pid))
        time.sleep(0.05)
    output = _output(cli)
    assert cli.returncode == 1, output
    assert "nothing answers there" in output and "127.0.0.1:9" in output and "Traceback" not in output, output
    assert not spawned, f"the refused run started {[p.cmdline()[:200] for p in spawned]}\n{output}"
    assert not (tmp_path / "prefect-home" / "prefect.db").exists(), output


def test_a_prefect_api_url_pointing_nowhere_says_what_to_do(
    tmp_path: Path, cli_env: tuple[Path, dict[str, str]], spawned: set[Proc]
) -> None:
    config, env = cli_env
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{probe.getsockname()[1]}/api"
    cli = start_cli(tmp_path, {**env, "PREFECT_API_URL": nowhere}, "run", "healthcheck", "--config", str(config))
    try:
        cli.wait(timeout=120)
    finally:
        output = _output(cli)
    assert cli.returncode == 1, output
    assert f"the Prefect API at {nowhere} (PREFECT_API_URL) does not answer" in output, output
    assert "prefect server start" in output and "unset PREFECT_API_URL" in output, output
    assert "Traceback" not in output
