"""Stock cycles asked for by webhooks, coalesced: per integration at most one running and one pending.

A burst of notifications (a shipment of 100 lines, MoySklad's retries, a stock report every minute)
must not become a burst of cycles: each cycle reads everything changed since the previous one, so
one cycle that starts after a notice carries it, however many came before. A request while a cycle
runs leaves one more to run after it; further requests join that one. So 100 notifications cost at
most two cycles.

Cycles run in a background thread per integration, in the receiver's own process: a Prefect
deployment run would start seconds later, and the receiver must answer within 1.5 s anyway. A cycle
that fails or is skipped (another run holds the stock lock) is asked for again after a backoff,
so the pending notices it left are carried without waiting for the next notification.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from connectors.http import first_line
from deployments.service.cycle_runs import track

logger = logging.getLogger("skladbridge.webhooks")

#: runs one cycle of an integration; False (or an exception) means "ask again later"
CycleRun = Callable[[str], bool]


@dataclass
class _Lane:
    """One integration's state: a cycle asked for, the thread running them, counts."""

    pending: bool = False
    worker: threading.Thread | None = None
    cycles: int = 0
    failures: int = 0
    retry: threading.Timer | None = None


class CycleTrigger:
    """Runs ``run(integration)`` in the background on request, coalescing requests per integration.

    Args:
        run: one cycle of an integration; returns True when it carried everything asked for.
        retry_after: seconds before a failed or skipped cycle is asked for again; doubles with each
            failure in a row, up to ``max_retry_after``.
    """

    def __init__(
        self, run: CycleRun, *, exchange: str = "stock-sync", retry_after: float = 30.0, max_retry_after: float = 600.0
    ) -> None:
        self._run = run
        self.exchange = exchange  # names the cycle threads: what a stop still waits for
        self.retry_after = retry_after
        self.max_retry_after = max_retry_after
        self._lanes: dict[str, _Lane] = {}
        self._changed = threading.Condition()
        self._closed = False

    def request(self, integration: str) -> None:
        """Ask for a cycle of ``integration``: one starts now, or once the running one ends."""
        with self._changed:
            if self._closed:
                return
            lane = self._lanes.setdefault(integration, _Lane())
            lane.pending = True
            if lane.worker is None:
                lane.worker = threading.Thread(
                    target=self._work, args=(integration, lane), name=f"{self.exchange}/{integration}", daemon=True
                )
                track(lane.worker)  # what a stop names as cut short
                lane.worker.start()

    def cycles(self, integration: str) -> int:
        """How many cycles of ``integration`` were started."""
        with self._changed:
            lane = self._lanes.get(integration)
            return lane.cycles if lane else 0

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no cycle runs or waits to run (retries on a timer do not count); False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: all(lane.worker is None for lane in self._lanes.values()), timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Start no more cycles; wait up to ``timeout`` in all for the running ones.

        Their threads are daemons: a cycle still running at exit dies with the process, its claimed
        queue items left for the next cycle to take back (a batch sets absolute values, so sending it
        again is safe)."""
        with self._changed:
            self._closed = True
            for lane in self._lanes.values():
                if lane.retry is not None:
                    lane.retry.cancel()
            workers = [lane.worker for lane in self._lanes.values() if lane.worker is not None]
        deadline = time.monotonic() + timeout
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))

    def _work(self, integration: str, lane: _Lane) -> None:
        while True:
            with self._changed:
                if not lane.pending or self._closed:
                    lane.worker = None
                    self._changed.notify_all()
                    return
                lane.pending = False
                lane.cycles += 1
            carried = self._one(integration)
            with self._changed:
                lane.failures = 0 if carried else lane.failures + 1
                if not carried and not lane.pending and not self._closed:
                    self._retry_later(integration, lane)

    def _one(self, integration: str) -> bool:
        try:
            return self._run(integration)
        except Exception as exc:  # a failed cycle is retried, never the end of the receiver
            logger.warning("stock cycle of %s failed: %s", integration, first_line(exc))
            return False

    def _retry_later(self, integration: str, lane: _Lane) -> None:
        delay = min(self.retry_after * 2 ** (lane.failures - 1), self.max_retry_after)
        if lane.retry is not None:
            lane.retry.cancel()
        lane.retry = threading.Timer(delay, self.request, (integration,))
        lane.retry.daemon = True
        lane.retry.start()
