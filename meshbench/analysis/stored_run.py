"""Load a stored run into tidy pandas frames and per-trial histograms.

Reads only what :mod:`meshbench.results` wrote: ``run.json``, ``trials.csv`` (its rows are
:class:`~meshbench.results.trial_record.TrialRecord`) and the HdrHistogram interval logs
(:mod:`~meshbench.analysis.interval_log`). Warm-up intervals are kept (tagged
``warmup=True`` in :attr:`Run.intervals`) but never enter a pooled histogram or a
percentile table.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hdrh.histogram import HdrHistogram

from meshbench.analysis import histograms as hist
from meshbench.analysis.interval_log import INTERVAL_COLUMNS, read_trial_log
from meshbench.analysis.slo import Slo
from meshbench.analysis.trial_frames import (
    TRIAL_KEYS,
    check_trials,
    cost_frame,
    percentile_frame,
    trial_frame,
)
from meshbench.config.dimensions import AA_CONTROL, BASELINE, DIMS, Cell, by_name, cell_of
from meshbench.errors import ResultsError
from meshbench.results import hlog, locks, rundir, store


@dataclass
class Run:
    """One stored run: metadata, tidy frames and the measured histograms of every trial.

    Frames (all latencies in ms, CPU in cores, memory in MiB):

    - ``trials``: one row per trial (``trials.csv`` typed; the sweep columns
      :data:`DIMS` filled in when the scenario does not sweep them), plus ``included``
      (valid and has a histogram: the trials that count).
    - ``percentiles``: long form, one row per trial x tag x percentile.
    - ``intervals``: one row per interval histogram (~1 s) per trial and tag, warm-up
      included and flagged, with its count, rate and percentiles.
    - ``cost``: long form, one row per trial x component (sidecar, service, generator).
    """

    path: Path
    meta: dict[str, Any]
    trials: pd.DataFrame
    percentiles: pd.DataFrame
    intervals: pd.DataFrame
    cost: pd.DataFrame
    histograms: dict[str, dict[str, HdrHistogram]] = field(repr=False)
    """``{trial_id: {tag: measured histogram}}``; warm-up under ``warmup.<tag>``."""
    warnings: list[str] = field(default_factory=list)
    snapshot: str = ""
    """Non-empty when the run was still running (its process held it) as it was read:
    what this snapshot holds, in words. Whatever is derived from it goes stale."""

    @property
    def live(self) -> bool:
        """Whether the run was still being measured when it was read."""
        return bool(self.snapshot)

    @property
    def run_id(self) -> str:
        return str(self.meta.get("run_id") or self.path.name)

    @property
    def status(self) -> str:
        return str(self.meta.get("status", "unknown"))

    @property
    def scenario(self) -> dict[str, Any]:
        s = self.meta.get("scenario") or {}
        return dict(s)

    @property
    def platform(self) -> str:
        env = self.meta.get("platform") or {}
        # kind runs recorded before the platform wrote "name" kept it under "platform"
        return str(env.get("name") or env.get("platform") or "unknown")

    @property
    def meshes(self) -> list[str]:
        """Meshes in the run: baseline, A/A control, then in scenario order."""
        declared = [str(m) for m in self.scenario.get("meshes", [])]
        seen = [m for m in declared if m in set(self.trials["mesh"])] if len(self.trials) else []
        extra = sorted(set(self.trials["mesh"]) - set(seen)) if len(self.trials) else []
        ordered = seen + extra
        for first in (AA_CONTROL, BASELINE):
            if first in ordered:
                ordered.remove(first)
                ordered.insert(0, first)
        return ordered

    @property
    def rates(self) -> list[float]:
        return sorted({float(r) for r in self.trials["rate_rps"]}) if len(self.trials) else []

    @property
    def depths(self) -> list[int]:
        return sorted({int(d) for d in self.trials["depth"]}) if len(self.trials) else []

    @property
    def cells(self) -> list[Cell]:
        """Every point of the sweep with at least one stored trial, sorted."""
        if self.trials.empty:
            return []
        rows = self.trials[list(DIMS)].drop_duplicates().to_dict("records")
        return sorted(cell_of(r) for r in rows)

    @property
    def swept(self) -> list[str]:
        """The dimensions that take more than one value in this run."""
        return [d for d in DIMS if len(self.trials) and self.trials[d].nunique() > 1]

    @property
    def has_baseline(self) -> bool:
        return BASELINE in self.meshes

    @cached_property
    def slo(self) -> Slo | None:
        return Slo.from_scenario(self.scenario)

    @property
    def seed(self) -> int:
        return int(self.meta.get("seed") or self.scenario.get("seed") or 0)

    def cell_trials(self, mesh: str, cell: Cell | float, **dims: Any) -> list[str]:
        """Ids of the included (valid, measured) trials of ``mesh`` in one cell, in trial
        order. ``cell`` is a :class:`Cell`, or just a rate (rps) plus optional ``dims``
        (``depth=2``); dimensions not given match every value."""
        t = self.trials
        sel = t["included"] & (t["mesh"] == mesh)
        if isinstance(cell, Cell):
            sel &= cell.matches(t)
        else:
            sel &= np.isclose(t["rate_rps"].to_numpy(dtype=float), float(cell))
            for name, value in dims.items():
                sel &= t[by_name(name).name] == value
        return [str(x) for x in t.loc[sel].sort_values("order")["trial_id"]]

    def cell_histograms(
        self, mesh: str, cell: Cell | float, tag: str = "latency", **dims: Any
    ) -> list[HdrHistogram]:
        """The measured ``tag`` histogram of every included trial of the cell."""
        return [self.histograms[t][tag] for t in self.cell_trials(mesh, cell, **dims)]

    def pooled(
        self, mesh: str, cell: Cell | float, tag: str = "latency", **dims: Any
    ) -> HdrHistogram:
        """All included trials of the cell merged into one histogram (µs): HdrHistogram
        ``add``, never an average of percentiles."""
        return hist.pool(self.cell_histograms(mesh, cell, tag, **dims))

    def trial_json(self, trial_id: str, name: str) -> Any:
        """A JSON file the orchestrator stored for one trial (e.g. ``sidecar_stats.json``)."""
        path = self.path / store.TRIALS / trial_id / name
        try:
            return json.loads(rundir.read_text(self.path, Path(store.TRIALS, trial_id, name)))
        except FileNotFoundError:
            raise ResultsError(f"{path} does not exist") from None


def load_run(path: str | Path) -> Run:
    """Read a stored run (any status) into a :class:`Run`.

    Raises :class:`ResultsError` for a directory that is not a run or whose schema this
    meshbench does not understand. Missing or unreadable histogram files make the trial
    not ``included`` and add a line to :attr:`Run.warnings`.
    """
    run_dir = Path(path)
    meta = store.read_run_json(run_dir)
    scenario = meta.get("scenario") or {}
    rows = store.read_trial_rows(run_dir)
    trials = trial_frame(check_trials(rows, run_dir), scenario)
    warnings: list[str] = []

    status = str(meta.get("status", "unknown"))
    planned = len(meta.get("plan") or [])
    if status == "complete" and planned and not rows:
        raise ResultsError(
            f"{run_dir / store.TRIALS_CSV} is missing or empty, but run.json says the run "
            f"completed {planned} planned trials",
            fix="restore trials.csv from a copy of the run; the histograms alone are not a result",
        )
    held = locks.is_held(run_dir) if status == "running" else None
    snapshot = ""
    if held:
        snapshot = (
            f"a snapshot of {len(trials)} of {planned} planned trials, read at "
            f"{store.utc_now()} while the run was still running: it does not follow the run; "
            "report again when the run has completed"
        )
        warnings.append(snapshot)
    elif status != "complete":
        warnings.append(
            f"run status is {status!r}: {len(trials)} of {planned} planned trials are stored"
        )
    if status == "running" and held is False:
        warnings.append(
            "run.json says running, but no meshbench process holds this run: it was killed; "
            f"finish it with `meshbench run --resume {run_dir} SCENARIO`"
        )

    histograms: dict[str, dict[str, HdrHistogram]] = {}
    interval_parts: list[pd.DataFrame] = []
    starts: dict[str, float] = {}
    logs: dict[str, tuple[Path, str]] = {}
    for trial_id, rel in zip(trials["trial_id"], trials["histogram"], strict=True):
        if not isinstance(rel, str) or not rel:
            continue
        p = run_dir / rel
        try:  # held inside the run directory: a link out of it is refused
            text = rundir.read_text(run_dir, rel)
            starts[trial_id] = hlog.start_time(io.StringIO(text)) or 0.0
        except FileNotFoundError:
            continue
        except (ValueError, ResultsError) as e:  # binary junk, a directory, a link out
            warnings.append(f"{trial_id}: cannot read {p.name}: {e}")
            continue
        logs[trial_id] = p, text
    t0 = min(starts.values(), default=0.0)
    for trial_id, (p, text) in logs.items():
        try:
            merged, frame = read_trial_log(trial_id, io.StringIO(text), starts[trial_id] - t0)
        except ValueError as e:
            warnings.append(f"{trial_id}: cannot read {p.name}: {e}")
            continue
        histograms[trial_id] = merged
        interval_parts.append(frame)

    has_latency = (
        trials["trial_id"]
        .map(
            lambda t: (
                t in histograms
                and histograms[t].get("latency") is not None
                and histograms[t]["latency"].get_total_count() > 0
            )
        )
        .astype(bool)
    )
    missing = trials.loc[trials["valid"] & ~has_latency, "trial_id"].tolist()
    if missing:
        warnings.append(
            f"{len(missing)} valid trial(s) have no latency histogram and are excluded: "
            + ", ".join(missing)
        )
    trials["included"] = trials["valid"] & has_latency

    keys = trials[list(TRIAL_KEYS)]
    intervals = (
        pd.concat(interval_parts, ignore_index=True)
        if interval_parts
        else pd.DataFrame(columns=list(INTERVAL_COLUMNS))
    )
    intervals = keys.merge(intervals, on="trial_id", how="inner")

    return Run(
        path=run_dir,
        meta=meta,
        trials=trials,
        percentiles=keys.merge(percentile_frame(histograms), on="trial_id", how="inner"),
        intervals=intervals,
        cost=cost_frame(trials),
        histograms=histograms,
        warnings=warnings,
        snapshot=snapshot,
    )
