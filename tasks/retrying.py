"""Which failures a task repeats: its ``retry_condition_fn`` (Prefect's hook for exactly this).

A task's retries (``retries=2, retry_delay_seconds=5``) are for faults that may be gone seconds
later: a system that kept answering 5xx or refusing for rate, a dropped connection, a database
blip. A permanent error fails the same way again, so repeating it only delays the line that says
what to fix (a wrong key took 20 s to fail, a closed port 53 s): those end the task at once.
"""

from __future__ import annotations

from typing import Any

from connectors.http.errors import ConnectorError, UnreachableError


def worth_repeating(exc: BaseException) -> bool:
    """Whether repeating the step seconds later may help.

    A connector error says so itself (``retryable``: 5xx, rate refusals, timeouts, broken bodies),
    except :class:`UnreachableError`: an address that never answered will not answer in five
    seconds either. Of other errors only the machine's and the network's (``OSError``,
    ``TimeoutError``) and the database's operational ones (a lock, a dropped connection) are
    repeated; a wrong config, bad data or a bug fails the same way every time.
    """
    if isinstance(exc, ConnectorError):
        return exc.retryable and not isinstance(exc, UnreachableError)
    if isinstance(exc, OSError | TimeoutError):
        return True
    names = {f"{cls.__module__}.{cls.__qualname__}" for cls in type(exc).__mro__}
    return "sqlalchemy.exc.OperationalError" in names  # named: tasks/ need not import SQLAlchemy here


def transient_only(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect's ``retry_condition_fn``: go on to the task's retries only for a transient fault."""
    exc = state.data
    return worth_repeating(exc) if isinstance(exc, BaseException) else True


#: what a task that may meet a transient fault passes to ``@task``: two more tries, 5 s apart, for those only
TRANSIENT_RETRIES: dict[str, Any] = {"retries": 2, "retry_delay_seconds": 5, "retry_condition_fn": transient_only}
