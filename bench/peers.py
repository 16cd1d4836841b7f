"""Running the peer extractions in their own processes and measuring them on the sandbox log."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from bench import measure

REPO = Path(__file__).resolve().parents[1]
BUCKET_REFILL_SECONDS = 3.5  # the peer starts with a full 45-unit bucket, as our flow did
PEER_TIMEOUT_SECONDS = 3600.0
MOYSKLADAPI_VENV = REPO / "bench" / ".venv-moyskladapi"


def start_sdk_peer() -> subprocess.Popen[str]:
    """Start ``bench.peer_sdk``; it imports the SDK (~40 s) and then waits for its parameters."""
    return subprocess.Popen(
        [sys.executable, "-m", "bench.peer_sdk"],
        cwd=REPO,
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def wait_ready(proc: subprocess.Popen[str], timeout: float = 300.0) -> None:
    """Block until the peer printed ``ready`` (or died)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.strip() == "ready" or not line:
            return


def _read_result(stdout: IO[str] | None) -> dict[str, Any]:
    assert stdout is not None
    last = ""
    for line in stdout:
        if line.strip():
            last = line
    return json.loads(last) if last.startswith("{") else {"completed": False, "first_errors": [last.strip()]}


def run_peers(
    bw: Any, sdk_proc: subprocess.Popen[str] | None, *, stock_type: str, moyskladapi: bool = True
) -> dict[str, Any]:
    """Each peer on the same world, one after the other, after our flow."""
    from connectors.moysklad.client import BOTH_ARCHIVED

    params = {"url": bw.ms_url, **bw.credential, "filter": BOTH_ARCHIVED, "stock_type": stock_type}
    peers: dict[str, Any] = {}
    if sdk_proc is not None:
        peers["moysklad-remap-12-sdk"] = _measured(bw, lambda: _run_proc(sdk_proc, params))
    peers["moyskladapi"] = (
        run_moyskladapi(bw, params)
        if moyskladapi
        else "skipped: --no-moyskladapi (it paces by request count: ~1 h at 100 000 products)"
    )
    return peers


def _run_proc(proc: subprocess.Popen[str], params: dict[str, Any]) -> dict[str, Any]:
    assert proc.stdin is not None
    try:
        proc.stdin.write(json.dumps(params) + "\n")
        proc.stdin.close()
        proc.wait(timeout=PEER_TIMEOUT_SECONDS)
    except (OSError, subprocess.TimeoutExpired) as exc:
        proc.kill()
        return {"completed": False, "first_errors": [f"peer process: {exc}"]}
    result = _read_result(proc.stdout)
    if proc.returncode:
        stderr = proc.stderr.read() if proc.stderr else ""
        result.setdefault("first_errors", []).append(f"exit {proc.returncode}: {stderr[-1500:]}")
    return result


def _measured(bw: Any, go: Any) -> dict[str, Any]:
    """Run ``go`` (a peer) and attach what the MoySklad sandbox logged meanwhile."""
    time.sleep(BUCKET_REFILL_SECONDS)
    banned_before = bw.demo.moysklad.banned
    since, t0 = time.time(), time.monotonic()
    result = go()
    until = time.time()
    log = measure.count_log(bw.demo.moysklad.log, since, until, 429)
    result.update(
        {
            "wall_seconds": round(time.monotonic() - t0, 2),
            "moysklad_log": log.as_dict(),
            "would_ban": measure.would_ban(log),
            "moysklad_banned_flag": bw.demo.moysklad.banned and not banned_before,
        }
    )
    result.setdefault("seconds", result["wall_seconds"])
    return result


def moyskladapi_python() -> str | None:
    """The venv interpreter for the ``moyskladapi`` peer, if it has been set up."""
    python = MOYSKLADAPI_VENV / "bin" / "python"
    return str(python) if python.exists() else None


def find_python312() -> str | None:
    """A Python >= 3.12 on this machine (PATH, then pyenv's versions)."""
    for name in ("python3.13", "python3.12"):
        found = shutil.which(name)
        if found:
            return found
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for version in sorted(pyenv.glob("3.1[2-9]*"), reverse=True):
        if (version / "bin" / "python3").exists():
            return str(version / "bin" / "python3")
    return None


def run_moyskladapi(bw: Any, params: dict[str, Any]) -> dict[str, Any] | str:
    """The async ``moyskladapi`` peer in its own venv, or why it was skipped."""
    if find_python312() is None:
        return "skipped: no Python >= 3.12 on this machine"
    python = moyskladapi_python()
    if python is None:
        return (
            f"skipped: Python >= 3.12 found but no venv with moyskladapi at {MOYSKLADAPI_VENV} "
            "(create it with: bench/setup_moyskladapi.sh)"
        )
    script = REPO / "bench" / "peer_moyskladapi.py"
    token = params.get("token")
    if token is None:  # the library takes only a Bearer token: a user token weighs what login/password does
        token = secrets.token_urlsafe(24)
        bw.demo.moysklad.tokens[token] = "user"
    params = {**params, "token": token}

    def go() -> dict[str, Any]:
        proc = subprocess.Popen(
            [python, str(script)], text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        wait_ready(proc)
        return _run_proc(proc, params)

    return _measured(bw, go)
