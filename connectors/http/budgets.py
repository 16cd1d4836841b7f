"""The process's budgets: one per credential, shared by every client of it in this process and, when
``SKLADBRIDGE_REDIS_URL`` is set, by every process of the hub through Redis.

Apart from :mod:`connectors.http.budget` (what a budget is) so that the Redis twin, which is one,
can build on it without the two importing each other.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TypeVar, cast

from connectors.http.budget import REDIS_URL_ENV, SYSTEM_CLOCK, Budget, RateBudget

__all__ = ["across_processes", "forget_budgets", "shared_budget"]

B = TypeVar("B", bound=Budget)


_BUDGETS: dict[tuple[str, ...], Budget] = {}
_BUDGETS_LOCK = threading.Lock()


def shared_budget(key: tuple[str, ...], factory: Callable[[], B]) -> B:
    """Return the process-wide budget for ``key`` (system, account, credential fingerprint).

    Every client of the same credential in this process shares it, whatever flow or task made
    the client. Across processes: see :func:`across_processes`.

    Raises:
        BudgetUnavailableError: ``SKLADBRIDGE_REDIS_URL`` is set but Redis does not answer.
    """
    with _BUDGETS_LOCK:
        budget = _BUDGETS.get(key)
        if budget is None:
            budget = _BUDGETS[key] = across_processes(key, factory())
        # one key, one factory: every caller of a key builds the same kind of budget
        return cast(B, budget)


def across_processes(key: tuple[str, ...], local: B) -> B:
    """``local``, or its Redis-shared twin when ``SKLADBRIDGE_REDIS_URL`` is set.

    Only a plain :class:`RateBudget` on the system clock is swapped (for a RedisBudget, which is
    one: the factory's type holds); a budget on another clock is a test's and stays in-process.
    Redis set but down is an error, never a quiet fallback to the in-process budget: N processes
    each spending a whole budget would be refused by the server.

    Raises:
        BudgetUnavailableError: Redis does not answer at that URL.
    """
    url = os.environ.get(REDIS_URL_ENV, "").strip()
    plain = cast(RateBudget, local)
    if not url or type(local) is not RateBudget or plain.clock is not SYSTEM_CLOCK:
        return local
    from connectors.http.redis_budget import RedisBudget  # redis is imported only when configured

    return cast(B, RedisBudget.like(plain, key, url))


def forget_budgets() -> None:
    """Drop every shared budget (tests)."""
    with _BUDGETS_LOCK:
        _BUDGETS.clear()
