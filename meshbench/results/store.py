"""Writing and reading ``results/<run-id>/`` atomically, never overwriting a run.

Schema history (bump :data:`SCHEMA_VERSION` and add a migration in :func:`read_run_json`
whenever a stored field changes meaning or disappears):

- 1: first version: run.json, trials.csv, histograms/<trial_id>.hlog, trials/<trial_id>/.
  Later additions that readers treat as optional (empty in older runs): trials.csv
  ``deployment`` (1 when empty) and ``host_*`` columns, ``trials/<trial_id>/host.json``,
  ``window`` (empty: the arms were deployed side by side); run.json ``resumes`` (each
  resume's time and how the attempt before it ended: a completed run keeps no stale
  ``error``).

A row of trials.csv is a :class:`~meshbench.results.trial_record.TrialRecord`, which owns
its columns, their types and their text.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from meshbench.errors import STORAGE_ERRNOS, ResultsError, storage_error
from meshbench.results import rundir
from meshbench.results.trial_record import TRIAL_COLUMNS, FieldError, TrialRecord

SCHEMA_VERSION = 1

RUN_JSON = "run.json"
TRIALS_CSV = "trials.csv"
HISTOGRAMS = "histograms"
TRIALS = "trials"


def utc_now() -> str:
    """The current time as an ISO-8601 UTC string with seconds."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def atomic_write_text(path: Path, text: str, root: Path | None = None) -> None:
    """Write ``text`` to ``path`` so readers see the old or the new file, never half of one.
    ``root``: the run (or output) directory ``path`` lies in; no link below it is followed
    (default: ``path``'s own directory)."""
    base = root if root is not None else path.parent
    rundir.write_text(base, path.relative_to(base), text)


def write_json(path: Path, data: Any, root: Path | None = None) -> None:
    """Atomically write pretty, key-sorted JSON (``root`` as for :func:`atomic_write_text`)."""
    text = json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
    atomic_write_text(path, text, root)


def new_run_dir(results_root: Path, scenario_name: str, now: datetime | None = None) -> Path:
    """Create and return a fresh ``<root>/<UTC time>-<scenario>[-N]`` directory."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", scenario_name)
    try:
        results_root.mkdir(parents=True, exist_ok=True)
        for n in range(1, 1000):
            name = f"{stamp}-{safe}" + ("" if n == 1 else f"-{n}")
            path = results_root / name
            try:
                path.mkdir()
            except FileExistsError:
                continue
            (path / HISTOGRAMS).mkdir()
            (path / TRIALS).mkdir()
            return path
    except OSError as e:
        if e.errno in STORAGE_ERRNOS:
            raise storage_error(e, e.filename or results_root, "create") from None
        raise ResultsError(f"cannot create a run directory under {results_root}: {e}") from None
    raise ResultsError(f"could not create a new run directory under {results_root}")


def write_trials(run_dir: Path, trials: Iterable[TrialRecord]) -> None:
    """Atomically rewrite ``trials.csv`` with one row per trial, in the given order."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=TRIAL_COLUMNS, lineterminator="\n")
    w.writeheader()
    for trial in trials:
        w.writerow(trial.to_row())
    atomic_write_text(run_dir / TRIALS_CSV, buf.getvalue(), root=run_dir)


def trial_from_row(row: Mapping[str, str | None], path: Path, line: int) -> TrialRecord:
    """The trial of line ``line`` of the trials.csv at ``path``; a field its column cannot
    hold is a :class:`ResultsError` naming the line, the trial and the column."""
    try:
        return TrialRecord.from_row(row)
    except FieldError as e:
        raise ResultsError(
            f"{path}: line {line} ({row.get('trial_id')}): {e}",
            fix="restore trials.csv as meshbench wrote it",
        ) from None


def read_trials(run_dir: Path) -> list[TrialRecord]:
    """The trials of ``trials.csv``, checked (empty when no trial has finished yet)."""
    path = run_dir / TRIALS_CSV
    rows = read_trial_rows(run_dir)
    return [trial_from_row(row, path, line) for line, row in enumerate(rows, start=2)]


def read_trial_rows(run_dir: Path) -> list[dict[str, str]]:
    """The rows of ``trials.csv`` as strings (empty when no trial has finished yet)."""
    path = run_dir / TRIALS_CSV
    try:
        text = rundir.read_text(run_dir, TRIALS_CSV)
        return list(csv.DictReader(io.StringIO(text, newline="")))
    except FileNotFoundError:
        return []
    except (UnicodeDecodeError, csv.Error) as e:
        raise ResultsError(
            f"{path} is not a CSV file meshbench wrote: {e}",
            fix="restore trials.csv from a copy of the run",
        ) from None


def read_run_json(run_dir: Path) -> dict[str, Any]:
    """Read ``run.json``, refusing schema versions this meshbench does not understand."""
    path = Path(run_dir) / RUN_JSON
    try:
        data = json.loads(rundir.read_text(Path(run_dir), RUN_JSON))
    except FileNotFoundError:
        raise ResultsError(
            f"{run_dir} is not a meshbench run directory (no {RUN_JSON})",
            fix="pass the directory that `meshbench run` printed last",
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ResultsError(f"{path} is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise ResultsError(
            f"{path} holds a JSON {type(data).__name__}, not a run's object",
            fix="restore run.json as meshbench wrote it",
        )
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ResultsError(
            f"{path} has results schema version {version!r}; this meshbench reads "
            f"version {SCHEMA_VERSION}",
            fix="re-analyse it with the meshbench version that wrote it, or upgrade meshbench",
        )
    return data
