"""What an emulated Horoshop shop holds: catalog, categories, statuses, dictionaries, orders, tokens."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connectors.horoshop.wire.limits import BUILTIN_STATUSES, TOKEN_TTL_SECONDS
from connectors.horoshop.wire.shop_time import to_wire


@dataclass
class ShopState:
    """One shop's data, as its functions read and write it (wire shapes, keyed by their ids)."""

    timezone: str = "Europe/Kyiv"
    products: dict[str, dict[str, Any]] = field(default_factory=dict)  # article -> product
    pages: dict[int, dict[str, Any]] = field(default_factory=dict)  # category id -> page
    statuses: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> {id, title{ua,ru}, success}
    deliveries: dict[int, dict[str, Any]] = field(default_factory=dict)
    payments: dict[int, dict[str, Any]] = field(default_factory=dict)
    currencies: list[dict[str, Any]] = field(default_factory=list)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)  # token -> (login, expires at)
    #: what the shop notified customers of (a status change may notify: crm.md D)
    notifications: list[tuple[int, int]] = field(default_factory=list)

    @classmethod
    def create(cls, timezone: str = "Europe/Kyiv") -> ShopState:
        state = cls(timezone=timezone)
        for sid, title in BUILTIN_STATUSES.items():
            state.statuses[sid] = {"id": sid, "title": {"ua": title, "ru": title}, "success": sid == 3}
        state.deliveries = {
            1: {"id": 1, "title": {"ua": "Нова Пошта"}, "type": "novaposhta"},
            2: {"id": 2, "title": {"ua": "Самовивіз"}, "type": "pickup"},
            3: {"id": 3, "title": {"ua": "Кур'єр"}, "type": "courier"},
        }
        state.payments = {
            1: {"id": 1, "title": {"ua": "Готівкою при отриманні"}},
            2: {"id": 2, "title": {"ua": "Оплата карткою онлайн"}},
        }
        state.currencies = [{"code": "UAH", "title": "Гривня", "rate": 1, "default": True}]
        return state

    def add_status(self, title: str, *, success: bool = False) -> int:
        """A custom status, as a shop admin adds it (ids after the built-in ones)."""
        sid = max(self.statuses, default=6) + 1
        self.statuses[sid] = {"id": sid, "title": {"ua": title, "ru": title}, "success": success}
        return sid

    def issue_token(self, login: str, now: float) -> str:
        token = secrets.token_hex(16)
        self.tokens[token] = (login, now + TOKEN_TTL_SECONDS)
        return token

    def token_owner(self, token: str, now: float) -> str | None:
        """The login a live token belongs to (None: unknown or expired)."""
        found = self.tokens.get(token)
        if found is None or found[1] <= now:
            return None
        return found[0]

    def expire_tokens(self) -> None:
        """Every token issued so far stops working (what 600 s do; tests call it mid-run)."""
        self.tokens = {token: (login, 0.0) for token, (login, _) in self.tokens.items()}

    def now_local(self) -> str:
        return to_wire(datetime.now(UTC), self.timezone)
