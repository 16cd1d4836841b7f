"""MoySklad's error answer: ``{"errors": [{error, code, moreInfo[, parameter]}]}``, as a whole answer or
as one item's entry in a bulk result."""

from __future__ import annotations

from connectors.moysklad.sandbox.state import Json
from connectors.sandboxing import ApiRefusal


class ItemError(ApiRefusal):
    """A MoySklad error: ``{"errors": [...]}`` as the answer, or one item's entry in a bulk result."""

    def __init__(self, code: int, message: str, parameter: str | None = None, status: int = 412) -> None:
        super().__init__(status, message)
        self.code, self.parameter = code, parameter

    def payload(self) -> Json:
        return self.body()

    def body(self) -> Json:
        """The ``{"errors": [...]}`` object."""
        err: Json = {
            "error": self.message,
            "code": self.code,
            "moreInfo": f"https://dev.moysklad.ru/doc/api/remap/1.2/#error_{self.code}",
        }
        if self.parameter:
            err["parameter"] = self.parameter
        return {"errors": [err]}
