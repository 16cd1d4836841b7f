"""A MoySklad account's settings in the integration config (``system: moysklad``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, HttpUrl, model_validator

from hub.systems import SecretRef, SystemSettings


class MoySkladSettings(SystemSettings):
    """A MoySklad account. Either ``token`` or ``login`` + ``password``."""

    system: Literal["moysklad"]
    base_url: HttpUrl = Field(default=HttpUrl("https://api.moysklad.ru/api/remap/1.2"))
    token: SecretRef | None = Field(default=None, description="Bearer token (user or solution)")
    token_kind: Literal["user", "app"] = Field(
        default="user", description="'app' for a Marketplace solution token (weight 1, not 4)"
    )
    login: str | None = Field(default=None, description="user@account, with password")
    password: SecretRef | None = None

    @model_validator(mode="after")
    def _credentials(self) -> MoySkladSettings:
        """A client must be able to sign in: a token, or a login with its password."""
        if self.token is None and (self.login is None or self.password is None):
            if self.login is not None or self.password is not None:
                raise ValueError("login and password go together: give both (or a token instead)")
            raise ValueError("no credentials: give token: ${ENV_VAR}, or login: user@account with password: ${ENV_VAR}")
        return self
