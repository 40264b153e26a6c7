"""Writing and reading ``results/<run-id>/`` atomically, never overwriting a run.

Schema history (bump :data:`SCHEMA_VERSION` and add a migration in :func:`read_run_json`
whenever a stored field changes meaning or disappears):

- 1: first version: run.json, trials.csv, histograms/<trial_id>.hlog, trials/<trial_id>/.
  Later additions that readers treat as optional (empty in older runs): trials.csv
  ``deployment`` (1 when empty) and ``host_*`` columns, ``trials/<trial_id>/host.json``,
  ``window`` (empty: the arms were deployed side by side).

A row of trials.csv is a :class:`~meshbench.results.trial_record.TrialRecord`, which owns
its columns, their types and their text.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from meshbench.errors import ResultsError
from meshbench.results.trial_record import TRIAL_COLUMNS, FieldError, TrialRecord

SCHEMA_VERSION = 1

RUN_JSON = "run.json"
TRIALS_CSV = "trials.csv"
HISTOGRAMS = "histograms"
TRIALS = "trials"


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def utc_now() -> str:
    """The current time as an ISO-8601 UTC string with seconds."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so readers see the old or the new file, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; results are for sharing
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    """Atomically write pretty, key-sorted JSON."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def new_run_dir(results_root: Path, scenario_name: str, now: datetime | None = None) -> Path:
    """Create and return a fresh ``<root>/<UTC time>-<scenario>[-N]`` directory."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", scenario_name)
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
    raise ResultsError(f"could not create a new run directory under {results_root}")


def write_trials(run_dir: Path, trials: Iterable[TrialRecord]) -> None:
    """Atomically rewrite ``trials.csv`` with one row per trial, in the given order."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=TRIAL_COLUMNS, lineterminator="\n")
    w.writeheader()
    for trial in trials:
        w.writerow(trial.to_row())
    atomic_write_text(run_dir / TRIALS_CSV, buf.getvalue())


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
    if not path.exists():
        return []
    try:
        with path.open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    except (UnicodeDecodeError, csv.Error) as e:
        raise ResultsError(
            f"{path} is not a CSV file meshbench wrote: {e}",
            fix="restore trials.csv from a copy of the run",
        ) from None
    except OSError as e:
        raise ResultsError(f"cannot read {path}: {e.strerror or e}") from None


def read_run_json(run_dir: Path) -> dict[str, Any]:
    """Read ``run.json``, refusing schema versions this meshbench does not understand."""
    path = Path(run_dir) / RUN_JSON
    if not path.exists():
        raise ResultsError(
            f"{run_dir} is not a meshbench run directory (no {RUN_JSON})",
            fix="pass the directory that `meshbench run` printed last",
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ResultsError(f"{path} is not valid JSON: {e}") from None
    except OSError as e:
        raise ResultsError(f"cannot read {path}: {e.strerror or e}") from None
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
