"""The tidy per-trial table as CSV: one row per trial, a unit in every quantity's name.

It is the analysis's own trial frame (:attr:`meshbench.analysis.stored_run.Run.trials`:
trials.csv typed, the sweep columns filled in, ``included``), with the columns whose
name did not say their unit renamed (:data:`RENAMED`): counts end in ``_count``, CPU in
``_cores``. Latencies are ms (corrected for coordinated omission unless ``service_`` or
``send_lag_``), memory MiB, times UTC.
"""

from __future__ import annotations

from pathlib import Path

from meshbench.analysis.stored_run import Run
from meshbench.results.store import atomic_write_text

TRIALS_CSV = "trials_tidy.csv"
RENAMED = {
    "requests": "requests_count",
    "errors": "errors_count",
    "warmup_requests": "warmup_requests_count",
    "generator_cpu": "generator_cpu_cores",
    "sidecar_cpu": "sidecar_cpu_cores",
    "service_cpu": "service_cpu_cores",
    "host_foreign_cpu": "host_foreign_cpu_cores",
}
DROPPED = ("histogram",)
"""A path inside the run directory: meaningless outside it."""


def write(run: Run, out_dir: Path) -> list[Path]:
    """``trials_tidy.csv`` into ``out_dir``."""
    t = run.trials.drop(columns=[c for c in DROPPED if c in run.trials]).rename(columns=RENAMED)
    t.insert(0, "run_id", run.run_id)
    path = out_dir / TRIALS_CSV
    atomic_write_text(path, t.to_csv(index=False, lineterminator="\n"))
    return [path]
