"""Load a stored run into tidy pandas frames and per-trial histograms.

Reads only what :mod:`meshbench.results` wrote: ``run.json``, ``trials.csv`` and the
HdrHistogram interval logs. Warm-up intervals are kept (tagged ``warmup=True`` in
:attr:`Run.intervals`) but never enter a pooled histogram or a percentile table.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hdrh.histogram import HdrHistogram
from numpy.typing import NDArray

from meshbench import locks
from meshbench.analysis import histograms as hist
from meshbench.dimensions import AA_CONTROL, BASELINE, DIMENSIONS, DIMS, Cell, by_name, cell_of
from meshbench.errors import ResultsError
from meshbench.results import hlog, store
from meshbench.results.trial_record import COLUMN_TYPES, TRIAL_COLUMNS, TrialRecord

TIME_SERIES_PERCENTILES: tuple[float, ...] = (50.0, 90.0, 99.0, 100.0)

_TRIAL_KEYS = ("trial_id", "mesh", *DIMS, "repeat", "valid", "included")


_COMPONENTS = ("sidecar", "service", "generator")


@dataclass(frozen=True)
class Slo:
    """A latency budget: the ``percentile`` of end-to-end latency must stay <= ``budget_ms``."""

    percentile: float
    budget_ms: float

    @property
    def label(self) -> str:
        return hist.label(self.percentile)

    @classmethod
    def from_scenario(cls, scenario: Mapping[str, Any]) -> Slo | None:
        """The scenario's ``slo: {percentile, budget_ms}``, or None when it declares none."""
        raw = scenario.get("slo")
        if raw is None:
            return None
        try:
            percentile = float(raw.get("percentile", 99.0))
            budget_ms = float(raw["budget_ms"])
        except (AttributeError, KeyError, TypeError, ValueError):
            raise ResultsError(
                f"scenario slo {raw!r} is not {{percentile: <0-100>, budget_ms: <ms>}}",
                fix="write e.g. `slo: {percentile: 99, budget_ms: 25}` in the scenario",
            ) from None
        if not (0 < percentile <= 100) or not (budget_ms > 0 and math.isfinite(budget_ms)):
            raise ResultsError(
                f"scenario slo {raw!r}: percentile must be in (0, 100] and budget_ms > 0",
                fix="write e.g. `slo: {percentile: 99, budget_ms: 25}` in the scenario",
            )
        return cls(percentile, budget_ms)


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
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise ResultsError(f"{path} does not exist") from None


REQUIRED_COLUMNS = ("trial_id", "mesh", "rate_rps", "repeat", "valid", "histogram")
"""Columns without which a trial cannot be placed in a cell and block: refused, never
guessed (a missing ``mesh`` would pool every trial into one unnamed arm)."""


_DTYPES: dict[type, Any] = {float: float, int: "Int64", bool: bool, str: str}
"""Frame column type of each record field type (``Int64``: whole numbers, NA when empty)."""


def _check_rows(rows: Sequence[Mapping[str, str]], run_dir: Path) -> list[TrialRecord]:
    """The trials of ``rows`` (trials.csv of ``run_dir``); :class:`ResultsError` for a file
    that would silently change the analysis: missing key columns, duplicated trial ids
    (extra "repeats"), histogram paths outside the run directory, mistyped fields."""
    where = run_dir / store.TRIALS_CSV
    if not rows:
        return []
    missing = [c for c in REQUIRED_COLUMNS if c not in rows[0]]
    if missing:
        raise ResultsError(
            f"{where}: missing column(s) {missing}", fix="restore trials.csv as meshbench wrote it"
        )
    seen: dict[str, int] = {}
    root = run_dir.resolve()
    trials = []
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        tid = str(row["trial_id"])
        if tid in seen:
            raise ResultsError(
                f"{where}: lines {seen[tid]} and {line} have the same trial id {tid!r}",
                fix="remove the duplicated row",
            )
        seen[tid] = line
        rel = row.get("histogram") or ""
        if rel and not (run_dir / rel).resolve().is_relative_to(root):
            raise ResultsError(
                f"{where}: line {line} ({tid}): histogram {rel!r} is outside the run directory",
                fix="histogram paths are histograms/<trial>.hlog",
            )
        trials.append(store.trial_from_row(row, where, line))
    return trials


def _typed_trials(trials: Sequence[TrialRecord], scenario: Mapping[str, Any]) -> pd.DataFrame:
    """One row per trial, every column of :data:`TRIAL_COLUMNS` in its type; the sweep
    settings in their stored form, filled from ``scenario`` where it did not sweep them."""
    defaults = {d.name: d.default(scenario) for d in DIMENSIONS}
    df = pd.DataFrame(
        [{**t.values(), **t.stored_sweep(defaults)} for t in trials], columns=list(TRIAL_COLUMNS)
    )
    for column, kind in COLUMN_TYPES.items():
        df[column] = df[column].astype(_DTYPES[kind])
    for d in DIMENSIONS:  # never empty: whole numbers need no NA
        df[d.name] = df[d.name].astype(int if d.stored_type is int else _DTYPES[d.stored_type])
    df["deployment"] = df["deployment"].fillna(1)  # runs before fresh deployments existed
    return df


@dataclass
class _Series:
    """The interval histograms of one tag of one trial, each cut to its non-empty range."""

    starts_s: list[float] = field(default_factory=list)
    lengths_s: list[float] = field(default_factory=list)
    first: list[int] = field(default_factory=list)  # counts index of each slice's first bucket
    slices: list[NDArray[np.uint64]] = field(default_factory=list)

    def add(self, interval: hlog.Interval) -> None:
        h = interval.histogram
        self.starts_s.append(interval.start_s)
        self.lengths_s.append(interval.length_s)
        if h.get_total_count() == 0:
            self.first.append(0)
            self.slices.append(np.zeros(0, dtype=np.uint64))
            return
        # decoding set min/max from the first and last non-empty bucket
        lo = h.get_counts_array_index(h.min_value)
        hi = h.get_counts_array_index(h.max_value)
        self.first.append(lo)
        self.slices.append(np.ctypeslib.as_array(h.counts)[lo : hi + 1])

    def matrix(self) -> tuple[int, NDArray[np.int64]]:
        """``(first index, counts)``: one row per interval over the union of their ranges
        (copying only non-empty ranges: full 17 408-counter rows cost ~1 s per 100 trials)."""
        used = [(f, s) for f, s in zip(self.first, self.slices, strict=True) if s.size]
        if not used:
            return 0, np.zeros((len(self.slices), 1), dtype=np.int64)
        lo = min(f for f, _ in used)
        hi = max(f + s.size for f, s in used)
        mat = np.zeros((len(self.slices), hi - lo), dtype=np.int64)
        for i, (f, s) in enumerate(zip(self.first, self.slices, strict=True)):
            mat[i, f - lo : f - lo + s.size] = s
        return lo, mat


def _interval_frame(
    trial_id: str,
    tag: str,
    ser: _Series,
    first: int,
    mat: NDArray[np.int64],
    lay: hist.Layout,
    run_offset_s: float,
) -> pd.DataFrame:
    n = mat.shape[1]
    lowest = hist.bucket_lowest_us(lay)[first : first + n]
    highest = hist.bucket_highest_us(lay)[first : first + n]
    pct = hist.percentiles_of_buckets(mat, lowest, highest, TIME_SERIES_PERCENTILES) / 1000
    start = np.array(ser.starts_s)
    length = np.array(ser.lengths_s)
    count = mat.sum(axis=1)
    part = pd.DataFrame(
        {
            "trial_id": trial_id,
            "tag": tag.removeprefix(hlog.WARMUP_PREFIX),
            "warmup": tag.startswith(hlog.WARMUP_PREFIX),
            "start_s": start,
            "run_time_s": start + run_offset_s,
            "length_s": length,
            "count": count,
            "rate_rps_achieved": np.divide(
                count, length, out=np.full(len(count), np.nan), where=length > 0
            ),
        }
    )
    for j, q in enumerate(TIME_SERIES_PERCENTILES):
        part[f"{hist.label(q)}_ms"] = pct[:, j]
    return part


def _read_trial_log(
    trial_id: str, path: Path, run_offset_s: float
) -> tuple[dict[str, HdrHistogram], pd.DataFrame]:
    """Every tag's intervals merged (by adding counts) and the per-interval frame."""
    series: dict[str, _Series] = {}
    lay: hist.Layout | None = None
    counts_len = 0
    for interval in hlog.iter_log(path):
        h = interval.histogram
        if lay is None:
            lay, counts_len = hist.layout(h), h.counts_len
        elif hist.layout(h) != lay:
            raise ValueError(f"intervals of different range/precision {hist.layout(h)}, {lay}")
        series.setdefault(interval.tag or "latency", _Series()).add(interval)
    if lay is None:
        return {}, pd.DataFrame()
    merged: dict[str, HdrHistogram] = {}
    parts = []
    for tag, ser in series.items():
        first, mat = ser.matrix()
        full = np.zeros(counts_len, dtype=np.int64)
        full[first : first + mat.shape[1]] = mat.sum(axis=0)
        merged[tag] = hist.from_counts(full, lay)
        parts.append(_interval_frame(trial_id, tag, ser, first, mat, lay, run_offset_s))
    return merged, pd.concat(parts, ignore_index=True)


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
    trials = _typed_trials(_check_rows(rows, run_dir), scenario)
    warnings: list[str] = []

    status = str(meta.get("status", "unknown"))
    planned = len(meta.get("plan") or [])
    if status == "complete" and planned and not rows:
        raise ResultsError(
            f"{run_dir / store.TRIALS_CSV} is missing or empty, but run.json says the run "
            f"completed {planned} planned trials",
            fix="restore trials.csv from a copy of the run; the histograms alone are not a result",
        )
    if status != "complete":
        warnings.append(
            f"run status is {status!r}: {len(trials)} of {planned} planned trials are stored"
        )
    if status == "running" and locks.is_held(run_dir) is False:
        warnings.append(
            "run.json says running, but no meshbench process holds this run: it was killed; "
            f"finish it with `meshbench run --resume {run_dir} SCENARIO`"
        )

    histograms: dict[str, dict[str, HdrHistogram]] = {}
    interval_parts: list[pd.DataFrame] = []
    starts: dict[str, float] = {}
    logs: dict[str, Path] = {}
    for trial_id, rel in zip(trials["trial_id"], trials["histogram"], strict=True):
        if not isinstance(rel, str) or not rel:
            continue
        p = run_dir / rel
        if not p.exists():
            continue
        try:
            starts[trial_id] = hlog.start_time(p) or 0.0
        except (ValueError, OSError) as e:  # binary junk, a directory, unreadable
            warnings.append(f"{trial_id}: cannot read {p.name}: {e}")
            continue
        logs[trial_id] = p
    t0 = min(starts.values(), default=0.0)
    for trial_id, p in logs.items():
        try:
            merged, frame = _read_trial_log(trial_id, p, starts[trial_id] - t0)
        except (ValueError, OSError) as e:
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

    keys = trials[list(_TRIAL_KEYS)]
    intervals = (
        pd.concat(interval_parts, ignore_index=True)
        if interval_parts
        else pd.DataFrame(
            columns=[
                "trial_id",
                "tag",
                "warmup",
                "start_s",
                "run_time_s",
                "length_s",
                "count",
                "rate_rps_achieved",
                *[f"{hist.label(q)}_ms" for q in TIME_SERIES_PERCENTILES],
            ]
        )
    )
    intervals = keys.merge(intervals, on="trial_id", how="inner")

    return Run(
        path=run_dir,
        meta=meta,
        trials=trials,
        percentiles=keys.merge(_percentile_frame(histograms), on="trial_id", how="inner"),
        intervals=intervals,
        cost=_cost_frame(trials),
        histograms=histograms,
        warnings=warnings,
    )


def _percentile_frame(histograms: Mapping[str, Mapping[str, HdrHistogram]]) -> pd.DataFrame:
    records: list[dict[str, Any]] = []
    for trial_id, tags in histograms.items():
        for tag in hlog.TAGS:
            h = tags.get(tag)
            if h is None:
                continue
            n = h.get_total_count()
            for q, v in hist.percentiles_ms(h, hist.PERCENTILES).items():
                records.append(
                    {
                        "trial_id": trial_id,
                        "tag": tag,
                        "percentile": q,
                        "label": hist.label(q),
                        "value_ms": v,
                        "count": n,
                    }
                )
    cols = ["trial_id", "tag", "percentile", "label", "value_ms", "count"]
    return pd.DataFrame.from_records(records, columns=cols)


def _cost_frame(trials: pd.DataFrame) -> pd.DataFrame:
    parts = []
    for comp in _COMPONENTS:
        cpu = trials[f"{comp}_cpu"]
        rss_col = f"{comp}_rss_mib"
        rss = trials[rss_col] if rss_col in trials else pd.Series(np.nan, index=trials.index)
        part = trials[list(_TRIAL_KEYS)].copy()
        part["component"] = comp
        part["cpu_cores"] = cpu.to_numpy(dtype=float)
        part["rss_mib"] = rss.to_numpy(dtype=float)
        part["cpu_cores_per_krps"] = part["cpu_cores"] / (trials["achieved_rps"] / 1000)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)
