"""The scaffold every exchange runs in: the bookkeeping around an exchange's own steps.

A flow says what its exchange does — read, plan, send — and hands that body to :func:`run_exchange`,
which owns everything the exchanges share, so that each flow reads like the exchange it implements:

* the config and the hub store, opened before and closed after;
* an integration switched off (in the console, or ``active: false`` in the file) runs nothing: the run
  ends with a skipped result saying who switched it off (the full import fails, saying so);
* the run's plan (which systems, which capabilities), checked before anything is sent;
* the run locks: a run that finds them taken ends cleanly with a :func:`hub.exchanges.skipped` result
  (or fails, for an exchange that must not be skipped silently, such as the full import);
* runs of the exchange a killed process left shown Running, marked Crashed, and the queue claims it
  left, released (the lock says nobody holds them);
* the Prefect tags, the journal entries (failed, done), the requests spent and the duration;
* the summary table artifact, and the failure rule: uploads the other side refused fail the run after
  the summary is published, so what was accepted stays accepted and the run says what was not.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Generic, TypeVar

from prefect import get_run_logger, tags

from connectors.http import RequestStats, request_stats
from hub.config import Config, Integration
from hub.exchanges import ExchangeSpec, RunResult, skipped
from hub.saved_mappings import with_saved_mappings
from hub.store import ExchangeBusyError, Store
from hub.switches import SwitchedOff, why_off, with_switches
from hub.systems import connector
from tasks.hub_tasks import load_config_task, open_hub_store
from tasks.publish import UploadsFailed
from tasks.reporting import publish_summary, requests_rows
from tasks.run_crashes import sweep_abandoned_runs


@dataclass(frozen=True)
class ExchangeRun:
    """One run of an exchange: the integration, its store and the two sides by alias (``source`` →
    ``target``). Each exchange's plan is one of these, with what its own steps need besides."""

    name: str
    integ: Integration
    store: Store
    source: str  # the system alias data is read from
    target: str  # the system alias it is written to

    @property
    def source_system(self) -> str:
        """The source's system name: what staged records and links are filed under."""
        return self.integ.systems[self.source].system

    @property
    def target_system(self) -> str:
        return self.integ.systems[self.target].system

    @property
    def source_title(self) -> str:
        """The source's name as merchants write it (for messages)."""
        return connector(self.source_system).title

    @property
    def target_title(self) -> str:
        return connector(self.target_system).title


R = TypeVar("R", bound=ExchangeRun)


@dataclass
class Outcome:
    """What an exchange's body found and did, in the words of its summary."""

    #: summary rows of the exchange itself (requests and duration are added after them)
    rows: list[dict[str, Any]]
    #: the journal's ``done`` line and its level (``info``, ``warning``, ``error``)
    line: str
    level: str = "info"
    #: the flow's result besides what the scaffold adds (integration, trigger, seconds, requests, rows)
    summary: dict[str, Any] = field(default_factory=dict)
    #: data kept with the journal's ``done`` entry
    data: dict[str, Any] | None = None
    #: rows after the duration (e.g. the lag from a notification)
    tail: list[dict[str, Any]] = field(default_factory=list)
    #: rows in the artifact only (failures and warnings spelled out)
    notes: list[dict[str, Any]] = field(default_factory=list)
    #: set when uploads were refused: the run fails with it once the summary is out
    failure: str | None = None
    #: warnings logged on the run (they are in ``notes`` and the journal too)
    warnings: list[str] = field(default_factory=list)
    #: False: nothing was to be done; no artifact and no journal entry (a scheduled run with no work)
    report: bool = True


@dataclass
class Exchange(Generic[R]):
    """One run of an exchange, as its body sees it."""

    spec: ExchangeSpec
    run: R
    trigger: str | None
    #: queue claims of a killed run released before the body ran
    released: int = 0
    #: called with the failure to say more in the journal (e.g. where the next run goes on)
    explain: Callable[[Exception], str] | None = None


def run_exchange(
    spec: ExchangeSpec,
    integration: str,
    config_path: str | None,
    plan: Callable[[Config, str, Store], R],
    body: Callable[[Exchange[R]], Outcome],
    trigger: str | None = None,
) -> RunResult:
    """Run ``body`` as one run of the exchange ``spec`` for ``integration``; returns its summary."""
    started, before = time.monotonic(), request_stats().by_endpoint()
    config = load_config_task(config_path)
    store = open_hub_store(config)
    try:
        ex: Exchange[R] | None = None
        try:
            off = _switched_off(spec, config, integration, store)
            if off is not None:
                return skipped(integration, off)
            # mappings saved in the console win over the file's, key by key
            ex = Exchange(spec, plan(with_saved_mappings(config, store), integration, store), trigger)
            with _held(spec, integration, store) as busy:
                if busy:
                    return skipped(integration, busy)
                sweep_abandoned_runs(integration)  # the lock is ours: a run still shown Running is dead
                ex.released = sum(store.queue.release(integration=integration, kind=kind) for kind in spec.locks)
                if spec.announce:
                    store.journal.write(
                        integration,
                        "info",
                        f"{spec.name}.start",
                        f"{spec.what} started",
                        {"released_claims": ex.released},
                    )
                outcome = body(ex)
        except Exception as exc:
            for event, text in _failure_entries(spec, exc, ex):
                store.journal.write(integration, "error", event, text)
            raise
        return _report(spec, ex, outcome, started, request_stats().since(before))
    finally:
        store.close()


def _switched_off(spec: ExchangeSpec, config: Config, integration: str, store: Store) -> str | None:
    """Why a run of a switched-off integration does nothing (journaled), or None when it is on.

    Raises:
        SwitchedOff: for an exchange that must not be skipped silently (the full import).
    """
    integ = config.integrations.get(integration)
    if integ is None or with_switches(config, store).integrations[integration].active:
        return None  # an unknown integration is the plan's to refuse, in its words
    why = why_off(integration, integ.active, store.switches.get(integration))
    if spec.busy is None:
        raise SwitchedOff(why)  # journaled as <name>.switched-off and <name>.failed
    get_run_logger().info(why)
    store.journal.write(integration, "info", f"{spec.name}.skipped", why)
    return why


@contextmanager
def _held(spec: ExchangeSpec, integration: str, store: Store) -> Iterator[str | None]:
    """The exchange's locks and tags held; yields the busy line instead when a skippable lock is taken."""
    with ExitStack() as held:
        try:
            held.enter_context(store.locks.hold(integration, *spec.locks))
        except ExchangeBusyError:
            if spec.busy is None:
                raise
            get_run_logger().info(spec.busy)
            store.journal.write(integration, "info", f"{spec.name}.skipped", spec.busy)
            yield spec.busy
            return
        held.enter_context(tags(f"integration:{integration}", spec.name))
        yield None


def _failure_entries(spec: ExchangeSpec, exc: Exception, ex: Exchange[Any] | None) -> list[tuple[str, str]]:
    """The journal entries of a failed run: the exchange's own (``<name>.failed``), after any the error
    names itself (a mapping error is also journaled as ``<name>.mappings``, in its own words)."""
    own = getattr(exc, "journal_event", None)
    entries = [(f"{spec.name}.{own}", str(exc))] if own else []
    text = ex.explain(exc) if ex is not None and ex.explain is not None else f"{spec.what} failed: {exc}"
    return [*entries, (f"{spec.name}.failed", text)]


def _report(
    spec: ExchangeSpec, ex: Exchange[Any], outcome: Outcome, started: float, spent: RequestStats
) -> dict[str, Any]:
    """Summary rows, artifact, journal and result of a run whose body ended; fails it on refused uploads."""
    integration, store = ex.run.name, ex.run.store
    seconds = round(time.monotonic() - started, 2)
    head = {"integration": integration, **({"trigger": ex.trigger} if ex.trigger is not None else {})}
    if not outcome.report:
        get_run_logger().info(outcome.line)
        return {**head, **outcome.summary, "rows": outcome.rows}
    rows = [*outcome.rows, *requests_rows(spent), {"what": "duration, s", "count": seconds}, *outcome.tail]
    title = spec.title.format(integration=integration, trigger=ex.trigger, source=ex.run.source, target=ex.run.target)
    publish_summary(f"{spec.name}-{integration}", [*rows, *outcome.notes], title)
    data = {"trigger": ex.trigger, **(outcome.data or {})} if ex.trigger is not None else outcome.data
    store.journal.write(integration, outcome.level, f"{spec.name}.done", outcome.line, data)
    for line in outcome.warnings:
        get_run_logger().warning(line)
    summary = {
        **head,
        **outcome.summary,
        "released_claims": ex.released,
        "seconds": seconds,
        "requests": {system: asdict(spent.total(system)) for system in spent.systems()},
        "rows": rows,
    }
    if outcome.failure:
        raise UploadsFailed(outcome.failure)
    return summary
