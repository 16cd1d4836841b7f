"""No secret appears in any log record or error message."""

from __future__ import annotations

import asyncio
import logging
from typing import ClassVar

import httpx
import pytest

from connectors.http import (
    REDACTED,
    BaseClient,
    ConnectorError,
    RateBudget,
    RetryPolicy,
    first_line,
    redact,
    register_secret,
)

SECRET = "s3cr3t-token-value-123"


class Client(BaseClient):
    system: ClassVar[str] = "test"


def test_secret_never_logged_nor_in_errors(caplog: pytest.LogCaptureFixture) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        # a misbehaving server that echoes the credential back in its error body
        echoed = request.headers["Authorization"]
        if request.url.path == "/flaky":
            return httpx.Response(500, text=f"internal error for {echoed}")
        return httpx.Response(401, text=f"bad credentials: {echoed} (apiKey={SECRET})")

    async def go() -> list[ConnectorError]:
        errors: list[ConnectorError] = []
        client = Client(
            "http://t",
            budget=RateBudget(100, 1, 5),
            headers={"Authorization": f"Bearer {SECRET}"},
            secrets=[SECRET],
            transport=httpx.MockTransport(handler),
            retry=RetryPolicy(max_attempts=2, base_delay=0.001),
        )
        async with client:
            for path in ("/flaky", "/auth"):
                try:
                    await client.request("GET", path, params={"apiKey": SECRET})
                except ConnectorError as exc:
                    errors.append(exc)
        return errors

    with caplog.at_level(logging.DEBUG):
        errors = asyncio.run(go())

    assert len(errors) == 2
    for exc in errors:
        assert SECRET not in str(exc) and SECRET not in repr(exc.args) and SECRET not in exc.message
    assert caplog.records, "the http layer should have logged the failures"
    for record in caplog.records:
        assert SECRET not in record.getMessage()
        assert SECRET not in str(record.__dict__)


def test_redact_masks_registered_secrets_and_query_credentials() -> None:
    register_secret("another-secret-xyz")
    text = redact("url?apiKey=abc123&x=1 token=zzz another-secret-xyz")
    assert "abc123" not in text and "zzz" not in text and "another-secret-xyz" not in text
    assert "x=1" in text


def test_first_line_is_one_masked_line_or_the_error_type() -> None:
    register_secret(SECRET)
    assert (
        first_line(RuntimeError(f"refused for {SECRET}\nTraceback (most recent call last): ..."))
        == f"refused for {REDACTED}"
    )
    assert first_line(TimeoutError()) == "TimeoutError"
    assert first_line(OSError("  \n")) == "OSError"
