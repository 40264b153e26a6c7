"""Writing and reading ``results/<run-id>/`` atomically, never overwriting a run.

Schema history (bump :data:`SCHEMA_VERSION` and add a migration in :func:`read_run_json`
whenever a stored field changes meaning or disappears):

- 1: first version: run.json, trials.csv, histograms/<trial_id>.hlog, trials/<trial_id>/.
  Later additions that readers treat as optional (empty in older runs): trials.csv
  ``deployment`` (1 when empty) and ``host_*`` columns, ``trials/<trial_id>/host.json``,
  ``window`` (empty: the arms were deployed side by side).
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

from meshbench.dimensions import DIMS
from meshbench.errors import ResultsError

SCHEMA_VERSION = 1

TRIAL_COLUMNS: tuple[str, ...] = (
    "trial_id",
    "order",
    "mesh",
    DIMS[0],  # the rate
    "repeat",
    "deployment",
    "window",
    *DIMS[1:],  # the other sweep dimensions (meshbench.dimensions)
    "valid",
    "invalid_reason",
    "requests",
    "errors",
    "warmup_requests",
    "duration_s",
    "achieved_rps",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "p999_ms",
    "max_ms",
    "mean_ms",
    "service_p50_ms",
    "service_p99_ms",
    "send_lag_p50_ms",
    "send_lag_p99_ms",
    "send_lag_max_ms",
    "generator_cpu",
    "generator_rss_mib",
    "sidecar_cpu",
    "service_cpu",
    "sidecar_rss_mib",
    "service_rss_mib",
    "host_steal_pct",
    "host_busy_pct",
    "host_foreign_cpu",
    "host_cpu_mhz",
    "host_flag",
    "started_utc",
    "histogram",
)
"""Columns of ``trials.csv``, in order. Latencies in ms; CPU in cores; memory in MiB.

Sweep dimensions (:data:`~meshbench.dimensions.DIMS`) are empty where the plan left them
unset: ``payload_bytes``, ``depth`` and ``mtls`` when the scenario does not sweep them (the
topology and the mesh decide). ``mesh`` ``none-aa`` is the A/A control arm. ``window``:
where a platform runs one mesh at a time (kind), the mesh whose install window the trial
ran in; baseline trials run in every window and are paired only with that window's mesh
(empty: all arms side by side).
``host_*`` (:mod:`meshbench.host`): CPU steal (max over the pinned CPUs, %), their busy
share (%), cores used by processes that are not meshbench's, CPU frequency (MHz), and
why the trial's host state was flagged ('' = it was not); empty in runs recorded before
they existed.
"""

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


def _format(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.6e}"
    return str(value)


def write_trials(run_dir: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """Atomically rewrite ``trials.csv`` with ``rows`` (unknown keys are an error)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=TRIAL_COLUMNS, lineterminator="\n")
    w.writeheader()
    for row in rows:
        extra = set(row) - set(TRIAL_COLUMNS)
        if extra:
            raise ValueError(f"unknown trial columns: {sorted(extra)}")
        w.writerow({k: _format(row.get(k)) for k in TRIAL_COLUMNS})
    atomic_write_text(run_dir / TRIALS_CSV, buf.getvalue())


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
