"""Runs killed mid-way, found and tidied: orphaned temporary files and a stale status.

A run that is SIGKILLed cannot clean up after itself. Its ``run.json`` still says
``running`` and an atomic write may have left its temporary file (``.<name>.<random>``)
beside the real one. A run is known dead when its run-directory lock (``.lock``) is
free: the lock dies with the process, so no PID file can be fooled by PID reuse.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from meshbench import locks
from meshbench.results.store import RUN_JSON, write_json

_TEMP = re.compile(r"^\.[^/]+\.[A-Za-z0-9_]{8}$")
"""Names ``atomic_write_text`` gives its temporary files (``tempfile.mkstemp``)."""


def sweep_results(results_root: Path) -> tuple[list[str], list[str]]:
    """Remove temporary files of dead runs under ``results_root`` and mark their
    ``running`` status ``interrupted``; returns (what was done, what was skipped and why)."""
    done: list[str] = []
    skipped: list[str] = []
    if not results_root.is_dir():
        return done, skipped
    for run_dir in sorted(p for p in results_root.iterdir() if (p / RUN_JSON).is_file()):
        held = locks.is_held(run_dir)
        if held:
            skipped.append(f"run {run_dir}: in progress (its lock is held)")
            continue
        for tmp in sorted(run_dir.rglob(".*")):
            if tmp.is_file() and _TEMP.match(tmp.name):
                tmp.unlink(missing_ok=True)
                done.append(f"temp file {tmp}")
        if held is None:  # a run from before locks: cannot tell dead from alive
            continue
        try:
            meta = json.loads((run_dir / RUN_JSON).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            skipped.append(f"run {run_dir}: run.json unreadable, status left as is")
            continue
        if isinstance(meta, dict) and meta.get("status") == "running":
            now = datetime.now(UTC).isoformat(timespec="seconds")
            meta.update(
                status="interrupted",
                finished_utc=meta.get("finished_utc") or now,
                error=f"killed: no process held the run when meshbench clean ran "
                f"at {now}; finish it with `meshbench run --resume {run_dir}`",
            )
            write_json(run_dir / RUN_JSON, meta)
            done.append(f"status of {run_dir}: running -> interrupted (killed)")
    return done, skipped
