"""A Horoshop shop's settings in the integration config (``system: horoshop``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hub.systems import SecretRef, SystemSettings


class HoroshopSettings(SystemSettings):
    """A Horoshop shop (``https://<domain>``; functions are called at ``/api/<function>/``).

    The API user is an admin of the shop (Налаштування → Адміни); the hub signs in with its login
    and password and keeps the 600-second token it gets in memory only.
    """

    system: Literal["horoshop"]
    login: str = Field(min_length=1, description="the API admin's login")
    password: SecretRef
    hourly_quota: int = Field(
        default=1000,
        ge=10,
        description="requests an hour the shop allows (Horoshop does not publish it: ask support, or "
        "read it off the first refusal); the hub spends at most quota_share of it",
    )
    quota_share: float = Field(
        default=0.8, gt=0, le=1, description="share of hourly_quota the hub spends (the rest: other apps, retries)"
    )
    max_quota_wait: float = Field(
        default=120.0,
        ge=0,
        description="seconds a request may wait for the hour's quota to free up; a longer wait fails the "
        "step as rate-limited (retried by the next run) instead of holding a worker",
    )
    timezone: str = Field(default="Europe/Kyiv", description="the shop's time zone (order dates are local)")
    order_overlap_minutes: int = Field(
        default=30, ge=0, le=1440, description="how far each order read reaches back before the last one (dedup'd)"
    )
    status_batch: int = Field(default=100, ge=1, le=500, description="orders per orders/update request")
