"""Fixtures of the shared-budget tests: a Redis key prefix of each test's own, removed afterwards."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
import redis


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix no other test (or run) uses; every key under it is deleted after the test."""
    prefix = f"sbtest:{secrets.token_hex(6)}"
    yield prefix
    with redis.Redis.from_url(redis_url) as client:
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)
