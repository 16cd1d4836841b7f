"""The sandbox's side of keyCRM's wire: Laravel error answers and calls as handlers receive them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.sandboxing import ApiRefusal


class LaravelError(ApiRefusal):
    """A keyCRM error: ``{"message"}``, with ``errors: {field: [texts]}`` for a 422 [inferred body]."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: Mapping[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status, message, headers)
        self.errors = dict(errors or {})

    def payload(self) -> Any:
        return {"message": self.message, **({"errors": self.errors} if self.errors else {})}


def invalid(errors: Mapping[str, list[str]]) -> LaravelError:
    return LaravelError(422, "The given data was invalid.", errors)


@dataclass(frozen=True)
class Call:
    """One admitted request as a handler sees it."""

    method: str
    args: tuple[str, ...]
    query: Mapping[str, str]
    body: Any = None
    url: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def filter(self, name: str) -> str | None:
        return self.query.get(f"filter[{name}]")

    def includes(self) -> set[str]:
        return {part.strip() for part in self.query.get("include", "").split(",") if part.strip()}
