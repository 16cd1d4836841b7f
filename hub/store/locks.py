"""One run at a time per (integration, stream): locks that die with the process holding them.

Two runs publishing the same stream of one integration would each take the other's queue claims
for abandoned ones and send the same batches twice. The lock is one the database server or the OS
drops when its holder goes away, so a run that was killed never blocks the next one:

* PostgreSQL: a session advisory lock, on a connection kept for the run (every worker on every
  host that shares the hub database sees it);
* SQLite: an exclusive ``flock`` on a file beside the database (a SQLite file is only shared by
  processes on one host).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path

from sqlalchemy import text

from .db import Database
from .errors import StoreError

_MEMORY_LOCKS: dict[str, threading.Lock] = {}
_MEMORY_GUARD = threading.Lock()


class ExchangeBusyError(StoreError):
    """Another run holds the lock of a stream this run needs."""


def _busy(integration: str, stream: str) -> ExchangeBusyError:
    return ExchangeBusyError(
        f"integration {integration!r}: another run is already publishing {stream!r} through this hub "
        "(another process or worker holds its lock). Wait for it to finish or stop it; a run that was "
        "killed releases its lock by itself."
    )


class RunLocks:
    """Repository of run locks (``store.locks``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @contextmanager
    def hold(self, integration: str, *streams: str) -> Iterator[None]:
        """Hold the locks of ``streams`` of ``integration`` for the ``with`` block, or fail at once.

        Raises:
            ExchangeBusyError: another run holds one of them (nothing is held then).
        """
        with ExitStack() as held:
            for stream in sorted(set(streams)):
                held.enter_context(self._one(integration, stream))
            yield

    def _one(self, integration: str, stream: str) -> AbstractContextManager[None]:
        name = f"{integration}/{stream}"
        if self.db.dialect == "postgresql":
            return self._advisory(name, integration, stream)
        return self._file(name, integration, stream)

    @contextmanager
    def _advisory(self, name: str, integration: str, stream: str) -> Iterator[None]:
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        conn = self.db.engine.connect()
        try:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar())
            conn.commit()  # a session lock outlives the transaction; do not sit idle in one
            if not got:
                raise _busy(integration, stream)
            try:
                yield
            finally:
                try:
                    conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                    conn.commit()
                except Exception:
                    conn.invalidate()  # never hand a connection that may still hold it back to the pool
                    raise
        finally:
            conn.close()

    @contextmanager
    def _file(self, name: str, integration: str, stream: str) -> Iterator[None]:
        database = self.db.engine.url.database
        if not database or database == ":memory:":
            with _MEMORY_GUARD:
                lock = _MEMORY_LOCKS.setdefault(name, threading.Lock())
            if not lock.acquire(blocking=False):
                raise _busy(integration, stream)
            try:
                yield
            finally:
                lock.release()
            return
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
        path = Path(f"{database}.{safe}.lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise _busy(integration, stream) from None
            yield  # closing the descriptor (or the process dying) releases the lock
        finally:
            os.close(fd)
