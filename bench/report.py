"""The benchmark's JSON file and its short fixed-width table."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def _get(d: dict[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def _n(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table_rows(result: dict[str, Any]) -> list[list[str]]:
    """One row per run (ours, each peer) with the columns of :data:`HEADER`."""
    ms_min, crm_min = result["minimum"]["moysklad"], result["minimum"]["retailcrm"]
    rows: list[list[str]] = []
    ours = result["ours"]
    if ours.get("moysklad_log"):
        ms, crm = ours["moysklad_log"], ours["retailcrm_log"]
        rows.append(
            [
                "ours: full-import flow",
                _n(ours.get("flow_seconds"), 1),
                f"{ms['requests']}/{ms_min['requests']}",
                f"{_n(ms['weight'])}/{_n(ms_min['weight'])}",
                str(ms["refused"]),
                f"{crm['requests']}/{crm_min['requests']}",
                str(crm["refused"]),
                _n(ours.get("phase_peak_rss_mb"), 0),
            ]
        )
    for name, peer in result["peers"].items():
        log = peer.get("moysklad_log") if isinstance(peer, dict) else None
        if not log:
            rows.append([f"peer: {name}", "skipped" if isinstance(peer, str) else "failed", "", "", "", "", "", ""])
            continue
        errors = sum((peer.get("errors") or {}).values())
        done = ("" if peer.get("completed") else " (stopped)") + (f" ({errors} failed calls)" if errors else "")
        rows.append(
            [
                f"peer: {name}{done}",
                _n(peer.get("seconds"), 1),
                f"{log['requests']}/{ms_min['requests']}",
                f"{_n(log['weight'])}/{_n(ms_min['weight'])}",
                str(log["refused"]),
                "n/a",
                "n/a",
                _n(peer.get("peak_rss_mb"), 0),
            ]
        )
    return rows


HEADER = ["run", "wall s", "MS req/min", "MS weight/min", "429", "CRM req/min", "503", "peak RSS MB"]


def text_table(header: list[str], rows: list[list[str]]) -> str:
    """A fixed-width text table: the first column left-aligned, the others right-aligned."""
    table = [header, *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in table
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """The same table in Markdown, for the README."""
    return "\n".join(
        ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in rows)]
    )


def table(result: dict[str, Any]) -> str:
    """The full-import benchmark's fixed-width table."""
    return text_table(HEADER, table_rows(result))


def markdown(result: dict[str, Any]) -> str:
    """The full-import benchmark's table in Markdown."""
    return markdown_table(HEADER, table_rows(result))


def write_json(result: dict[str, Any], out_dir: Path) -> Path:
    """``full_import-<products>-<auth>-<UTC timestamp>.json`` in ``out_dir`` (written atomically)."""
    return write_result(result, out_dir, f"full_import-{result['products']}-{result['auth']}")


def write_result(result: dict[str, Any], out_dir: Path, name: str) -> Path:
    """``<name>-<UTC timestamp>.json`` in ``out_dir``, written atomically (a reader never sees half)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = out_dir / f"{name}-{stamp}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    tmp.replace(path)
    return path
