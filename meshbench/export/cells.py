"""One exported result per mesh and cell: its pooled histogram and when it was measured.

Fortio and SMP describe one load test against one target; a meshbench cell of one mesh
is several trials of the same load, so each is exported as their pooled histogram
(HdrHistogram ``add``, as every report table pools), with the first trial's start and
the last trial's end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from hdrh.histogram import HdrHistogram

from meshbench.analysis.stored_run import Run
from meshbench.config.dimensions import DIMENSIONS, RATE, Cell


@dataclass(frozen=True)
class CellResult:
    """The valid trials of one mesh in one cell, pooled."""

    mesh: str
    cell: Cell
    title: str
    """``150 rps`` plus the run's other swept settings."""
    name: str
    """File-name stem: ``<run id>_<mesh>_<cell tags>``."""
    histogram: HdrHistogram
    """Pooled latency (µs, corrected for coordinated omission)."""
    trials: int
    requests: int
    errors: int
    measured_s: float
    """Measured seconds summed over the trials (warm-up excluded)."""
    start: datetime
    end: datetime
    connections: int


def _tags(cell: Cell, swept: list[str]) -> str:
    return "-".join(
        d.tag(getattr(cell, d.name)) for d in DIMENSIONS if d is RATE or d.name in swept
    )


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def _utc(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None


def cell_results(run: Run) -> list[CellResult]:
    """Every mesh x cell of ``run`` with at least one included trial, in report order."""
    warmup_s = float((run.scenario.get("load") or {}).get("warmup_s") or 0.0)
    out = []
    for cell in run.cells:
        for mesh in run.meshes:
            ids = run.cell_trials(mesh, cell)
            if not ids:
                continue
            t = run.trials.set_index("trial_id").loc[ids]
            starts = [s for s in (_utc(str(x)) for x in t["started_utc"]) if s is not None]
            durations = t["duration_s"].astype(float).fillna(0.0).to_numpy()
            first = min(starts) if starts else datetime.fromtimestamp(0).astimezone()
            last_i = int(np.argmax([s.timestamp() for s in starts])) if starts else 0
            end = (max(starts) if starts else first) + timedelta(
                seconds=warmup_s + float(durations[last_i] if len(durations) else 0.0)
            )
            out.append(
                CellResult(
                    mesh=mesh,
                    cell=cell,
                    title=cell.title(run.swept),
                    name=_safe(f"{run.run_id}_{mesh}_{_tags(cell, run.swept)}"),
                    histogram=run.pooled(mesh, cell),
                    trials=len(ids),
                    requests=int(t["requests"].fillna(0).sum()),
                    errors=int(t["errors"].fillna(0).sum()),
                    measured_s=float(durations.sum()),
                    start=first,
                    end=end,
                    connections=int(cell.connections),
                )
            )
    return out
