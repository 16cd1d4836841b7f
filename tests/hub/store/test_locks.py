"""Run locks: one run per (integration, stream) across processes, released by a holder's death."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from hub.store import ExchangeBusyError, Store, open_store

REPO = Path(__file__).resolve().parents[3]

HOLDER = """
import sys, time
from hub.store import open_store
store = open_store(sys.argv[1], upgrade=False)
with store.locks.hold("shop", "inventories"):
    print("held", flush=True)
    time.sleep(120)
"""


def test_a_second_holder_is_refused_until_the_first_lets_go(store: Store, store_url: str) -> None:
    other = open_store(store_url, upgrade=False)  # its own engine: another worker
    try:
        with store.locks.hold("shop", "inventories", "prices"):
            busy = pytest.raises(ExchangeBusyError, match=r"'shop'.*'inventories'")
            with busy, other.locks.hold("shop", "inventories"):
                pass
            with other.locks.hold("shop", "orders"), other.locks.hold("other-shop", "inventories"):
                pass  # other streams and other integrations are free
        with other.locks.hold("shop", "inventories"):
            pass
    finally:
        other.close()


def test_a_refused_run_holds_nothing(store: Store, store_url: str) -> None:
    other = open_store(store_url, upgrade=False)
    try:
        with store.locks.hold("shop", "prices"):
            with pytest.raises(ExchangeBusyError), other.locks.hold("shop", "inventories", "prices"):
                pass
            with store.locks.hold("shop", "inventories"):  # the refused run did not keep this one
                pass
    finally:
        other.close()


def test_a_killed_holder_releases_its_lock(store: Store, store_url: str) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, store_url], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(ExchangeBusyError), store.locks.hold("shop", "inventories"):
            pass
        holder.kill()
        holder.wait(timeout=30)
        deadline = time.monotonic() + 15  # the server notices the dropped connection at once, or nearly
        while True:
            try:
                with store.locks.hold("shop", "inventories"):
                    break
            except ExchangeBusyError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        holder.kill()
        holder.wait(timeout=30)
