"""The official OpenAPI spec as a validator of wire bodies (loaded once per process; it is big).

Adjustments, all to the validator rather than to our data:

* ``discriminator`` is dropped (the spec's polymorphic allOf chains recurse forever in
  openapi-schema-validator) and ``nullable`` becomes a JSON-Schema ``null`` type (plain Draft 4);
* ``oneOf`` becomes ``anyOf``: the spec's polymorphic ``oneOf`` lists (product | service | variant
  …) are ambiguous for real objects, since every member matches a bare ``{"meta": …}`` reference; the
  verbatim doc samples fail them too. Assortment rows are additionally validated against the schema
  of their own ``meta.type``;
* request bodies: the docs ([GEN] «Работа с позициями документов», [CP]) send ``positions``,
  ``accounts`` and ``contactpersons`` as JSON arrays, the spec types them as list objects
  (``{"meta", "rows"}``). The sandbox accepts both; for validation an array is wrapped as
  ``{"rows": [...]}`` so that every item is still checked against the spec's item schema.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

import httpx
import yaml
from jsonschema import Draft4Validator

from tests.shared_apis import SHARED_APIS, require

SPEC = SHARED_APIS / "moysklad-openapi" / "openapi.yaml"
API = "/api/remap/1.2"


def _adapt(node: Any) -> None:
    if isinstance(node, dict):
        node.pop("discriminator", None)
        if "oneOf" in node:
            node["anyOf"] = node.pop("oneOf")
        if node.get("nullable") is True and isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
        for value in node.values():
            _adapt(value)
    elif isinstance(node, list):
        for value in node:
            _adapt(value)


@functools.cache
def load_spec() -> dict[str, Any]:
    """The parsed spec (C loader: ~1 s), adapted for Draft 4 validation."""
    spec: dict[str, Any] = yaml.load(require(SPEC).read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    _adapt(spec["components"])
    return spec


@dataclass(frozen=True)
class Exchange:
    """One request the client sent and the response it got."""

    method: str
    path: str
    request_body: Any
    status: int
    response_body: Any


class Recorder(httpx.AsyncBaseTransport):
    """A transport wrapper recording every exchange (bodies decoded) for validation afterwards."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.exchanges: list[Exchange] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        body = json.loads(content) if content else None
        sent = json.loads(request.content) if request.content else None
        path = request.url.path.removeprefix(API)
        self.exchanges.append(Exchange(request.method, path, sent, response.status_code, body))
        return response


class SpecValidator:
    """Finds the spec operation of a (method, path) and validates bodies against its schemas."""

    def __init__(self) -> None:
        self.spec = load_spec()
        self.routes: list[tuple[int, re.Pattern[str], str]] = []
        for template in self.spec["paths"]:
            pattern = re.sub(r"\{[^}]+\}", "[^/]+", template)
            self.routes.append((template.count("{"), re.compile(f"^{pattern}$"), template))
        self.routes.sort(key=lambda r: r[0])

    def operation(self, method: str, path: str, *, bulk: bool = False) -> dict[str, Any] | None:
        """The spec operation, or None if the spec does not describe this endpoint."""
        target = path.rstrip("/") + ("/batch" if bulk else "")
        for _, pattern, template in self.routes:
            if pattern.match(target):
                return self.spec["paths"][template].get(method.lower())
        return None

    def errors(self, schema: dict[str, Any], instance: Any) -> list[str]:
        """Validation errors of ``instance`` against ``schema`` (with the spec's components)."""
        validator = Draft4Validator({**schema, "components": self.spec["components"]})
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in validator.iter_errors(instance)]

    def component(self, name: str) -> dict[str, Any]:
        """A ``$ref`` schema to a component."""
        return {"$ref": f"#/components/schemas/{name}"}

    def check(self, ex: Exchange) -> list[str] | None:
        """Errors of one exchange (request and 200 response); None if the spec lacks the endpoint."""
        bulk = isinstance(ex.request_body, list)
        op = self.operation(ex.method, ex.path, bulk=bulk)
        if op is None:
            return None
        problems: list[str] = []
        if ex.request_body is not None and "requestBody" in op:
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            problems += [f"request {e}" for e in self.errors(schema, _wrap_arrays(ex.request_body))]
        if ex.status == 200 and ex.response_body is not None:
            schema = op["responses"]["200"]["content"]["application/json"]["schema"]
            body = ex.response_body
            if ex.path.endswith("/entity/assortment"):
                rows = body.get("rows", [])
                problems += self.errors(schema, {**body, "rows": []})
                for row in rows:
                    problems += self.errors(self.component(row["meta"]["type"]), row)
            else:
                problems += self.errors(schema, body)
        return [f"{ex.method} {ex.path}: {p}" for p in problems]


ARRAY_FIELDS = ("positions", "accounts", "contactpersons")


def _wrap_arrays(body: Any) -> Any:
    """``{"positions": [...]}`` (the documented form) → ``{"positions": {"rows": [...]}}`` (the spec's)."""
    if isinstance(body, list):
        return [_wrap_arrays(item) for item in body]
    if isinstance(body, dict):
        return {k: {"rows": v} if k in ARRAY_FIELDS and isinstance(v, list) else v for k, v in body.items()}
    return body
