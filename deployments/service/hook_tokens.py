"""The token rule every webhook receiver shares: a secret reference resolved, long and URL-safe."""

from __future__ import annotations

import re

from hub.config import resolve_secret
from hub.redaction import register_secret

#: a token shorter than this is refused: it is all that keeps strangers from triggering cycles
MIN_TOKEN_LENGTH = 16
TOKEN = re.compile(r"[A-Za-z0-9_-]+")  # what secrets.token_urlsafe gives: one path segment as is


class WebhookSetupError(ValueError):
    """An integration's webhook settings cannot be served (one line, naming the key to fix)."""


def checked_token(where: str, reference: str | None) -> str:
    """The token ``reference`` names, registered for redaction.

    Raises:
        WebhookSetupError: too short or not URL-safe (``where`` names the key).
        ConfigError: the reference cannot be resolved.
    """
    token = resolve_secret(reference) or ""
    if len(token) < MIN_TOKEN_LENGTH or not TOKEN.fullmatch(token):
        raise WebhookSetupError(
            f"{where}: the token must be at least {MIN_TOKEN_LENGTH} characters of A-Z a-z 0-9 _ -; generate "
            "one with `python -c 'import secrets; print(secrets.token_urlsafe(24))'`"
        )
    register_secret(token)  # masked wherever an error or log line might quote it
    return token
