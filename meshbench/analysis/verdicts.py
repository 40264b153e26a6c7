"""Verdict words and the rules that give them (one owner for every report and compare).

Against a practical threshold (the scenario's ``analysis.min_effect_ms`` /
``min_effect_pct``, whichever is larger at that percentile):

- ``slower`` / ``faster``: significant after Holm's adjustment over the meshes x cells
  of the run (per primary percentile), and the interval is not inside the band;
- ``no meaningful change``: the whole interval lies inside ±threshold;
- ``inconclusive``: neither; reported with what the run could have detected (MDE at
  80 % power) and about how many repeats would resolve the threshold;
- ``too few repeats``: fewer than two blocks with both arms valid;
- ``descriptive``: a secondary percentile, a tail too thin to estimate from each trial,
  or the maximum (the ``why`` column says which);
- ``no data``: no valid trial on one side.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from meshbench.analysis import blocks
from meshbench.analysis import histograms as hist
from meshbench.analysis.stored_run import Run
from meshbench.config.scenario import AnalysisSpec

SLOWER = "slower"
FASTER = "faster"
NO_CHANGE = "no meaningful change"
INCONCLUSIVE = "inconclusive"
TOO_FEW = "too few repeats"
DESCRIPTIVE = "descriptive"
NO_DATA = "no data"

MIN_TAIL_SAMPLES = 10
"""A percentile gets a verdict only if every trial compared has at least this many
samples beyond it (p99 needs >= 1,000 samples per trial, p99.9 >= 10,000): otherwise a
trial's percentile is decided by a handful of samples."""

MAXIMUM = "the maximum is one sample: descriptive only"
SECONDARY = "secondary percentile (not in analysis.primary)"
ONE_SIDE = "no valid trial on one side"


def primary_percentiles(spec: AnalysisSpec, slo_percentile: float | None) -> list[float]:
    """The percentiles that get verdicts: the scenario's ``analysis.primary``, else p50
    and the SLO percentile (p99 without an SLO)."""
    if spec.primary:
        return [float(q) for q in spec.primary]
    second = slo_percentile if slo_percentile is not None and slo_percentile < 100 else 99.0
    return sorted({50.0, float(second)})


def analysis_spec(run: Run) -> AnalysisSpec:
    """The run's ``analysis`` settings (defaults for runs recorded before they existed)."""
    return AnalysisSpec.model_validate(run.scenario.get("analysis") or {})


def threshold_ms(spec: AnalysisSpec, baseline_ms: float) -> float:
    """The practical threshold at one percentile: the larger of the absolute and the
    relative minimum effect."""
    rel = spec.min_effect_pct / 100 * baseline_ms if math.isfinite(baseline_ms) else 0.0
    return max(spec.min_effect_ms, rel)


def tail_check(counts: NDArray[np.float64], percentile: float, rate_rps: float) -> str:
    """Why ``percentile`` cannot get a verdict from trials of ``counts`` samples ('' if it can)."""
    if percentile >= 100:
        return MAXIMUM
    beyond = 1 - percentile / 100
    need = math.ceil(MIN_TAIL_SAMPLES / beyond - 1e-9)
    have = np.nanmin(counts) if np.isfinite(counts).any() else 0
    if have >= need:
        return ""
    secs = (
        f" (a measured trial of >= {need / rate_rps:.3g} s at {rate_rps:g} rps)"
        if rate_rps > 0
        else ""
    )
    return (
        f"{hist.label(percentile)} needs >= {need:,} samples per trial{secs}; "
        f"the smallest trial has {int(have):,}"
    )


def screen(both_sides: bool, percentile: float, primary: bool, tail: str) -> tuple[str, str]:
    """``(verdict, why)`` of a row that cannot be tested (no data, the maximum, a
    secondary percentile, a tail too thin per ``tail``, :func:`tail_check`'s answer), or
    ``("", "")`` for a row that goes on to :func:`apply_verdicts`."""
    if not both_sides:
        return NO_DATA, ONE_SIDE
    if percentile >= 100:
        return DESCRIPTIVE, MAXIMUM
    if not primary:
        return DESCRIPTIVE, SECONDARY
    return (DESCRIPTIVE, tail) if tail else ("", "")


def decide(low: float, high: float, estimate: float, threshold: float, significant: bool) -> str:
    """The verdict word of one inferential row (see the module docstring)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return TOO_FEW
    if -threshold < low and high < threshold:
        return NO_CHANGE
    if significant:
        return SLOWER if estimate > 0 else FASTER
    return INCONCLUSIVE


def apply_verdicts(
    df: pd.DataFrame, alpha: float, family: pd.Series, estimate: str = "overhead_ms"
) -> pd.DataFrame:
    """Fill ``p_holm``, ``significant`` and ``verdict`` of the rows that are tested
    (``verdict`` empty so far). ``family`` marks the rows adjusted together with Holm,
    per percentile: across meshes x cells (the others, e.g. the A/A control, keep their
    own p-value). ``estimate`` names the column of the point estimate (ms); the
    interval is ``ci_low_ms``..``ci_high_ms``."""
    tested = df["verdict"].eq("")
    df["p_holm"] = np.where(tested, df["p_value"], np.nan)
    fam = tested & family
    for _q, rows in df[fam].groupby("percentile"):
        df.loc[rows.index.tolist(), "p_holm"] = blocks.holm(rows["p_value"].to_numpy(dtype=float))
    for i in df.index[tested]:
        r = df.loc[i]
        df.loc[i, "verdict"] = decide(
            float(r["ci_low_ms"]),
            float(r["ci_high_ms"]),
            float(r[estimate]),
            float(r["threshold_ms"]),
            bool(r["p_holm"] < alpha),
        )
    df["significant"] = df["verdict"].isin([SLOWER, FASTER])
    return df
