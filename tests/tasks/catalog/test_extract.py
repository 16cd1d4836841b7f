"""Image fetches: only owners whose images may have changed, and all of them after a format change."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from hub.capabilities import ImageOwner
from tasks.catalog.extract import _image_marks, _stale_image_owners
from tasks.catalog.run import CatalogRun


def _row(owner: str, updated: str) -> ImageOwner:
    return ImageOwner(owner, updated)


def test_owners_are_stale_until_marked_and_again_when_updated(make_run: Callable[[str], CatalogRun]) -> None:
    run = make_run("images")
    rows = [_row("p00", "2026-11-01 10:00:00.000"), _row("p01", "2026-11-01 10:00:00.000")]
    assert [r.owner_id for r in _stale_image_owners(run, rows)] == ["p00", "p01"]
    run.store.records.upsert_frame(run.name, "image_sync", "moysklad", _image_marks(rows[:2]), "owner_id")
    assert _stale_image_owners(run, rows) == []
    rows[1] = _row("p01", "2026-11-02 09:00:00.000")
    assert [r.owner_id for r in _stale_image_owners(run, rows)] == ["p01"]


def test_marks_of_an_older_staging_format_make_every_owner_stale(make_run: Callable[[str], CatalogRun]) -> None:
    run = make_run("format")
    rows = [_row("p00", "2026-11-01 10:00:00.000")]
    old_marks = pd.DataFrame({"owner_id": ["p00"], "updated": ["2026-11-01 10:00:00.000"]})  # before links
    run.store.records.upsert_frame(run.name, "image_sync", "moysklad", old_marks, "owner_id")
    assert [r.owner_id for r in _stale_image_owners(run, rows)] == ["p00"]
