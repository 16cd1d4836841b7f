"""A feed file replaced atomically (readers see the old file or the new one, never half of one), and
the text it holds escaped once for both XML feeds (ICML and YML).

The feeds (ICML for the CRMs, YML for portals) are written as a stream into a temporary file beside
the target, synced, and renamed over it. A writer holds a lock on its temporary file for as long as
it writes; the OS drops the lock when the writer dies, so a temporary file nobody locks was left by
a killed writer and the next write removes it (where there is no ``flock``, none is removed).
"""

from __future__ import annotations

import glob
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO
from xml.sax.saxutils import escape, quoteattr

try:
    import fcntl
except ImportError:  # pragma: no cover - not on the platforms the hub runs on
    fcntl = None  # type: ignore[assignment]

#: characters XML 1.0 does not allow even escaped (nor YML: codes 0-31 but tab, LF, CR). Catalog names
#: copied from spreadsheets do contain them, and one stray \x0b would make a loader reject the feed.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(value: object) -> str:
    """``value`` as element text: escaped, characters XML cannot hold dropped."""
    return escape(_INVALID_XML.sub("", str(value)))


def xml_attr(value: object) -> str:
    """``value`` as a quoted attribute value, likewise."""
    return quoteattr(_INVALID_XML.sub("", str(value)))


@contextmanager
def replaced_atomically(path: Path) -> Iterator[TextIO]:
    """A text stream whose content replaces ``path`` when the block ends without an error (and is
    thrown away when it raises, the old file left as it was)."""
    path = Path(path)
    _remove_abandoned(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        _lock(fd)  # held until the file is closed: "a live writer's" to _remove_abandoned
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n", buffering=1 << 16) as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp_name, 0o644)  # mkstemp makes it 0600; a feed server may run as another user
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _lock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _remove_abandoned(path: Path) -> None:
    """Remove the temporary files of ``path``'s writes that were killed on their way."""
    if fcntl is None:
        return
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        try:
            fd = os.open(stale, os.O_RDONLY)
        except FileNotFoundError:
            continue  # its writer finished (or another cleaner was first)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a live writer's
        else:
            stale.unlink(missing_ok=True)
        finally:
            os.close(fd)
