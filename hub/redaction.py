"""Secrets never leave the process: masking for messages, errors and every log record.

A client registers the secrets it sends (:func:`register_secret`); :func:`redact` masks them, and
any secret-looking query parameter, wherever text leaves us. The filter is installed on our own
loggers and on httpx's, which logs every request URL at INFO, query string included.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Mapping
from typing import Any

__all__ = ["REDACTED", "RedactingFilter", "fingerprint", "first_line", "install_redaction", "redact", "register_secret"]

_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()
_SECRET_QUERY = re.compile(r"(?i)((?:api_?key|token|password|access_token|secret)=)[^&\s\"']+")
REDACTED = "***"


def register_secret(value: str | None) -> None:
    """Remember ``value`` so that :func:`redact` masks it everywhere (logs, errors, artifacts).

    Values shorter than four characters are ignored: masking them would garble ordinary text.
    """
    if value and len(value) >= 4:
        with _SECRETS_LOCK:
            _SECRETS.add(value)


def redact(text: str) -> str:
    """Mask every registered secret and every secret-looking query parameter in ``text``."""
    with _SECRETS_LOCK:
        # longest first, so a secret containing another is masked whole
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _SECRET_QUERY.sub(lambda m: m.group(1) + REDACTED, text)


def first_line(exc: BaseException) -> str:
    """The exception as one line a user can read: its message's first line, redacted, else its type."""
    text = str(exc).strip()
    return redact(text).splitlines()[0] if text else type(exc).__name__


def redact_obj(obj: Any) -> Any:
    """``obj`` with :func:`redact` applied to every string inside it (mappings and sequences)."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, Mapping):
        return {k: redact_obj(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [redact_obj(v) for v in obj]
    return obj


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in the message and its arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record still must not leak
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        for key, value in list(record.__dict__.items()):
            if key.startswith("sb_") and isinstance(value, str):
                record.__dict__[key] = redact(value)
        return True


def install_redaction(target: logging.Logger | logging.Handler | None = None) -> None:
    """Attach :class:`RedactingFilter` (to the ``skladbridge`` logger by default), once."""
    target = target or logging.getLogger("skladbridge")
    if not any(isinstance(f, RedactingFilter) for f in target.filters):
        target.addFilter(RedactingFilter())


# httpx logs every request URL at INFO, query string included: filter it as well as our own.
for _name in ("skladbridge", "skladbridge.http", "httpx", "httpcore"):
    install_redaction(logging.getLogger(_name))


def fingerprint(*parts: str | None) -> str:
    """A short, irreversible fingerprint of credentials, for budget keys and logs."""
    digest = hashlib.sha256("\x00".join(p or "" for p in parts).encode()).hexdigest()
    return digest[:12]
