"""The queue's value types: :class:`QueueStatus` and the immutable :class:`QueueItem`."""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .db import json_dumps


class QueueStatus(enum.StrEnum):
    """Where an item is in its life."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    DEAD = "dead"


@dataclass(frozen=True)
class QueueItem:
    """One unit of outbound work as stored (a snapshot; re-read it to see changes)."""

    id: int
    integration: str
    kind: str
    idempotency_key: str
    payload: dict[str, Any]
    payload_hash: str
    status: QueueStatus
    attempts: int
    max_attempts: int
    last_error: str | None
    next_attempt_at: datetime
    created_at: datetime
    updated_at: datetime
    claimed_by: str | None
    result: dict[str, Any] | None


def payload_hash(payload: dict[str, Any]) -> str:
    """sha256 of the payload's canonical JSON (sorted keys), to spot a changed payload."""
    canonical = json.dumps(json.loads(json_dumps(payload)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
