"""The ``console:`` section of the config: who may log in to the hub's web console, and how it is reached.

A user has a password hash (``skladbridge console hash-password`` prints one: scrypt, salted) or a
secret reference (``${ENV_VAR}`` or ``prefect-secret:<block>``) holding the password; never the
password itself. With no user the console serves a loopback address only.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: the scheme of a password hash (``scrypt$n$r$p$salt$hash``, both base64)
HASH_SCHEME = "scrypt"


class ConsoleUser(BaseModel):
    """One console login: a password hash, or a reference to the password kept as a secret."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    password_hash: str | None = Field(
        default=None, description="scrypt$n$r$p$salt$hash (skladbridge console hash-password)"
    )
    password: str | None = Field(default=None, description="${ENV_VAR} or prefect-secret:<block> holding the password")

    @model_validator(mode="after")
    def _one_way(self) -> ConsoleUser:
        if (self.password_hash is None) == (self.password is None):
            raise ValueError("give exactly one of password_hash (skladbridge console hash-password) or password")
        if self.password_hash is not None and (
            not self.password_hash.startswith(f"{HASH_SCHEME}$") or self.password_hash.count("$") != 5
        ):
            raise ValueError(
                "password_hash is not a hash of `skladbridge console hash-password` (scrypt$n$r$p$salt$hash)"
            )
        return self


class ConsoleSettings(BaseModel):
    """``console:``: users, and whether the console is reached through HTTPS (a proxy in front)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    users: dict[str, ConsoleUser] = Field(default_factory=dict)
    behind_https: bool = Field(
        default=False, description="an HTTPS proxy is in front: the session cookie is sent over HTTPS only (Secure)"
    )
    prefect_ui_url: str | None = Field(
        default=None, description="where the Prefect UI is, for links to runs (default: PREFECT_API_URL without /api)"
    )
    session_minutes: int = Field(default=480, gt=0, le=10_080, description="a session ends after this much idle time")
