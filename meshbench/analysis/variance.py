"""Where the variance of an overhead contrast lives: within a trial, between trials,
between deployments (method-of-moments components, Kalibera & Jones style).

Used by ``meshbench size`` (how big a run must be) and by ``bench/variance_study.py``
(where the variance lives across several runs).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from meshbench.analysis import histograms as hist
from meshbench.analysis.stored_run import Run
from meshbench.results import hlog


def within_trial_var_us2(run: Run, trial_id: str, q: float) -> float:
    """Sampling variance (µs²) of one trial's percentile ``q``: a quarter of the squared
    difference between its two halves' percentiles (each half's variance is twice the
    whole's). NaN for a trial with fewer than two measured intervals."""
    path = run.path / str(run.trials.set_index("trial_id").loc[trial_id, "histogram"])
    intervals = [i.histogram for i in hlog.iter_log(path) if i.tag == "latency"]
    if len(intervals) < 2:
        return math.nan
    rows = [hist.counts(h) for h in intervals]
    half = len(rows) // 2
    width = max(r.size for r in rows)
    mats = [np.zeros(width, dtype=np.int64), np.zeros(width, dtype=np.int64)]
    for k, r in enumerate(rows):
        mats[0 if k < half else 1][: r.size] += r
    lay = hist.layout(intervals[0])
    a, b = (hist.percentiles_us(m, lay, [q])[0] for m in mats)
    return float((a - b) ** 2 / 4)


def nested(d: NDArray[np.float64]) -> tuple[float, float, float]:
    """Variance components (within deployment, deployment, run) of contrasts laid out
    runs x deployments x repeats (balanced, NaN-free)."""
    a, b, n = d.shape
    dep_means = d.mean(axis=2)
    run_means = dep_means.mean(axis=1)
    ms_rep = float(((d - dep_means[:, :, None]) ** 2).sum()) / (a * b * (n - 1))
    ms_dep = (
        n * float(((dep_means - run_means[:, None]) ** 2).sum()) / (a * (b - 1))
        if b > 1
        else math.nan
    )
    ms_run = (
        b * n * float(((run_means - run_means.mean()) ** 2).sum()) / (a - 1) if a > 1 else math.nan
    )
    var_dep = max(0.0, (ms_dep - ms_rep) / n) if b > 1 else math.nan
    var_run = max(0.0, (ms_run - (ms_dep if b > 1 else ms_rep)) / (b * n)) if a > 1 else math.nan
    return ms_rep, var_dep, var_run


def one_way(values: Sequence[float], groups: Sequence[object]) -> tuple[float, float]:
    """``(within-group variance, between-group variance component)`` of ``values`` by
    ``groups`` (unbalanced one-way method of moments, the component truncated at 0).
    NaN where it cannot be estimated (no group with two values; fewer than two groups)."""
    v = np.asarray(values, dtype=np.float64)
    keys = sorted(set(groups), key=str)
    parts = [v[[g == k for g in groups]] for k in keys]
    n_total, k = v.size, len(parts)
    df_within = n_total - k
    ss_within = sum(float(((p - p.mean()) ** 2).sum()) for p in parts)
    ms_within = ss_within / df_within if df_within > 0 else math.nan
    if k < 2 or not math.isfinite(ms_within):
        return ms_within, math.nan
    grand = float(v.mean())
    ms_between = sum(p.size * (float(p.mean()) - grand) ** 2 for p in parts) / (k - 1)
    n0 = (n_total - sum(p.size**2 for p in parts) / n_total) / (k - 1)
    return ms_within, max(0.0, (ms_between - ms_within) / n0)
