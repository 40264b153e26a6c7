"""Runs killed mid-way, found and tidied: orphaned temporary files, a stale status, and the
empty directory of a start that failed before it wrote run.json.

A run that is SIGKILLed cannot clean up after itself. Its ``run.json`` still says
``running`` and an atomic write may have left its temporary file (``.<name>.<random>``)
beside the real one. A run is known dead when its run-directory lock (``.lock``) is
free: the lock dies with the process, so no PID file can be fooled by PID reuse. Only
what is provably a run's is touched: a run directory reached through a link is skipped,
and a directory without run.json is removed only when it holds nothing but the empty
skeleton :func:`~meshbench.results.store.new_run_dir` makes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from meshbench.errors import MeshbenchError
from meshbench.results import locks, rundir
from meshbench.results.store import HISTOGRAMS, RUN_JSON, TRIALS, write_json

_TEMP = re.compile(r"^\.[^/]+\.[A-Za-z0-9_]{8}$")
"""Names :func:`~meshbench.results.rundir.temp_name` gives temporary files (and
``tempfile.mkstemp`` gave them before)."""
_RUN_ID = re.compile(r"^\d{8}T\d{6}Z-[A-Za-z0-9_.-]+$")
"""Names :func:`~meshbench.results.store.new_run_dir` gives run directories."""
SKELETON_DIRS = frozenset({HISTOGRAMS, TRIALS, "logs"})


@dataclass
class Sweep:
    """What :func:`sweep_results` did, left alone (and why), and could not do."""

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[MeshbenchError] = field(default_factory=list)


def _unstarted(path: Path) -> bool:
    """A directory of a start that failed before run.json: its name is a run id and it
    holds only empty skeleton directories and a lock file nobody holds."""
    if not _RUN_ID.match(path.name) or path.is_symlink() or not path.is_dir():
        return False
    for entry in path.iterdir():
        if entry.name == locks.RUN_LOCK and entry.is_file() and not entry.is_symlink():
            continue
        if entry.name in SKELETON_DIRS and entry.is_dir() and not entry.is_symlink():
            if any(entry.iterdir()):
                return False
            continue
        return False
    return locks.is_held(path) is not True


def sweep_results(results_root: Path) -> Sweep:
    """Remove temporary files of dead runs under ``results_root``, mark their ``running``
    status ``interrupted`` and remove directories of failed starts; a run that cannot be
    tidied (a read-only or full disk) is recorded in ``failed`` and the others go on."""
    out = Sweep()
    if not results_root.is_dir():
        return out
    for path in sorted(results_root.iterdir()):
        try:
            _sweep_one(path, out)
        except MeshbenchError as e:
            out.failed.append(e)
    return out


def _sweep_one(run_dir: Path, out: Sweep) -> None:
    if run_dir.is_symlink():
        if (run_dir / RUN_JSON).is_file():
            out.skipped.append(f"run {run_dir}: a link; tidy the directory it points to")
        return
    if not (run_dir / RUN_JSON).is_file():
        if _unstarted(run_dir):
            rundir.remove(run_dir.parent, run_dir.name)
            out.done.append(f"empty directory of a failed start {run_dir}")
        return
    held = locks.is_held(run_dir)
    if held:
        out.skipped.append(f"run {run_dir}: in progress (its lock is held)")
        return
    for tmp in sorted(run_dir.rglob(".*")):
        if _TEMP.match(tmp.name) and (tmp.is_file() or tmp.is_symlink()):
            rundir.remove(run_dir, tmp.relative_to(run_dir))
            out.done.append(f"temp file {tmp}")
    if held is None:  # a run from before locks: cannot tell dead from alive
        return
    try:
        meta = json.loads(rundir.read_text(run_dir, RUN_JSON))
    except (MeshbenchError, OSError, UnicodeDecodeError, json.JSONDecodeError):
        out.skipped.append(f"run {run_dir}: run.json unreadable, status left as is")
        return
    if isinstance(meta, dict) and meta.get("status") == "running":
        now = datetime.now(UTC).isoformat(timespec="seconds")
        meta.update(
            status="interrupted",
            finished_utc=meta.get("finished_utc") or now,
            error=f"killed: no process held the run when meshbench clean ran "
            f"at {now}; finish it with `meshbench run --resume {run_dir}`",
        )
        write_json(run_dir / RUN_JSON, meta, root=run_dir)
        out.done.append(f"status of {run_dir}: running -> interrupted (killed)")
