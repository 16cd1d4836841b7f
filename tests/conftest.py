"""Session-wide test setup: Prefect configured before import, one temporary backend per session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

# Before prefect is imported anywhere: a private PREFECT_HOME kept between runs (gitignored) so the
# temporary server's database is already migrated, no analytics, quiet API logging.
(REPO / ".cache" / "prefect-test-home").mkdir(parents=True, exist_ok=True)
os.environ.setdefault("PREFECT_HOME", str(REPO / ".cache" / "prefect-test-home"))
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_TO_API_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")


@pytest.fixture(scope="session")
def prefect_backend() -> Iterator[None]:
    """A temporary Prefect server for the whole session, with the flow heartbeat off (~1 s per run)."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            yield


@pytest.fixture(autouse=True)
def _fresh_http_state() -> Iterator[None]:
    """Budgets and counters are process-wide by design; tests must not leak them into each other."""
    from connectors.http import forget_answered, forget_budgets, reset_request_stats

    forget_budgets()
    forget_answered()  # which addresses answered decides whether a refusal is retried
    reset_request_stats()
    yield
    forget_budgets()


@pytest.fixture
def redis_url() -> str:
    """The test Redis (``SKLADBRIDGE_TEST_REDIS_URL``, e.g. ``redis://127.0.0.1:6379/15``, a database
    of its own). Without the variable the Redis tests are skipped, except under ``CI``, where they
    fail so that CI can never pass by silently skipping them."""
    url = os.environ.get("SKLADBRIDGE_TEST_REDIS_URL")
    if not url:
        reason = "shared-budget tests need SKLADBRIDGE_TEST_REDIS_URL=redis://host:port/db"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must not skip them")
        pytest.skip(reason)
    return url
