"""Run a Python module as a child process that cannot outlive the process that started it.

Usage (by file path, not ``-m``, so nothing of ours has to be importable in the child)::

    python die_with_parent.py --parent PID [--pdeathsig] -- MODULE [ARG ...]

Why: a ``skladbridge run`` killed with SIGKILL (or SIGTERM, whose default action skips every
clean-up) used to leave Prefect's temporary server running, ~230 MB each, until someone noticed.
No clean-up code runs in a killed parent, so the child has to watch for the death itself:

* on Linux, ``prctl(PR_SET_PDEATHSIG, SIGKILL)``: the kernel kills this process the moment the
  parent's thread that started it ends (``--pdeathsig``, which the parent passes only when it
  starts us from its main thread, the one that lives as long as the process);
* everywhere (and as a backstop), a daemon thread that polls ``os.getppid()``: once the parent is
  gone this process is re-parented (to init or a sub-reaper), the value changes and it kills itself.

It is SIGKILL, not a graceful stop, because once the parent is gone nothing will ever talk to the
server again, and its SQLite database is crash-safe; a stop that can hang would defeat the point.
The module then runs in this same interpreter (``runpy``), so it keeps our process id and the
guards, and there is no extra process to leave behind. Standard library only: it runs before the
module's own imports.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
POLL_SECONDS = 0.5


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(POLL_SECONDS)
    _die()


def die_with(parent: int, *, pdeathsig: bool) -> None:
    """Arrange for this process to be killed when process ``parent`` ends."""
    if pdeathsig and sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # if it fails, the watcher below still works
    # the parent may have died between our fork and the prctl above, which then never fires
    if os.getppid() != parent:
        _die()
    threading.Thread(target=_watch, args=(parent,), name="die-with-parent", daemon=True).start()


def main(argv: list[str]) -> None:
    """Parse ``--parent PID [--pdeathsig] -- MODULE ARGS``, set the guards, run MODULE as ``__main__``."""
    try:
        split = argv.index("--")
        options, command = argv[:split], argv[split + 1 :]
        parent = int(options[options.index("--parent") + 1])
    except (ValueError, IndexError):
        sys.exit("usage: die_with_parent.py --parent PID [--pdeathsig] -- MODULE [ARG ...]")
    if not command:
        sys.exit("usage: die_with_parent.py --parent PID [--pdeathsig] -- MODULE [ARG ...]")
    die_with(parent, pdeathsig="--pdeathsig" in options)
    # as `python -m MODULE` would see it: argv[0] the module, the working directory first on the path
    # (not this file's directory, whose modules would shadow top-level names)
    sys.argv = [command[0], *command[1:]]
    sys.path[0] = os.getcwd()
    runpy.run_module(command[0], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
