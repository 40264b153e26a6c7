"""Pooled per-cell percentiles and how much a cell's repeats disagree (noise)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from meshbench.analysis import histograms as hist
from meshbench.analysis.run import DIMS, Run, cell_of

NOISY_SPREAD_PCT = 20.0
"""A cell whose p50, p90 or p99 varies more than this between repeats is flagged noisy."""

NOISE_PERCENTILES: tuple[float, ...] = (50.0, 90.0, 99.0)
"""Percentiles checked for noise; p99.9 and max are noisy by nature and never flagged."""

MIN_TAIL_SAMPLES = 10
"""A percentile is only checked when every trial has this many samples above it (p99
needs >= 1000 samples per trial): otherwise the spread is sampling error, not noise."""

CELL_COLUMNS = [
    "mesh", *DIMS, "tag", "percentile", "label", "value_ms",
    "trials_valid", "trials_invalid", "requests",
]


def trial_counts(run: Run) -> pd.DataFrame:
    """Per cell: included (valid, measured) trials, excluded trials and requests pooled."""
    t = run.trials
    if t.empty:
        return pd.DataFrame(columns=["mesh", *DIMS, "trials_valid", "trials_invalid",
                                     "requests"])
    g = t.assign(excluded=~t["included"], req=t["requests"].where(t["included"], 0).fillna(0))
    out = (
        g.groupby(["mesh", *DIMS], as_index=False)
        .agg(trials_valid=("included", "sum"), trials_invalid=("excluded", "sum"),
             requests=("req", "sum"))
    )
    return out.astype({"trials_valid": int, "trials_invalid": int, "requests": int})


def cell_percentiles(
    run: Run, percentiles: Sequence[float] = hist.PERCENTILES, tag: str = "latency"
) -> pd.DataFrame:
    """Pooled percentiles of every cell (long form), from the merged histograms of its
    included trials; never an average of per-trial percentiles."""
    counts = trial_counts(run)
    records = []
    for row in counts.to_dict("records"):
        cell = cell_of(row)
        ids = run.cell_trials(str(row["mesh"]), cell)
        mat, lay = hist.stack([run.histograms[t][tag] for t in ids])
        values = hist.percentiles_us(mat.sum(axis=0), lay, percentiles) / 1000
        for q, v in zip(percentiles, values, strict=True):
            records.append({
                "mesh": row["mesh"], **cell.as_dict(), "tag": tag,
                "percentile": q, "label": hist.label(q), "value_ms": float(v),
                "trials_valid": row["trials_valid"], "trials_invalid": row["trials_invalid"],
                "requests": row["requests"],
            })
    return pd.DataFrame.from_records(records, columns=CELL_COLUMNS)


def noise(run: Run, percentiles: Sequence[float] = hist.PERCENTILES) -> pd.DataFrame:
    """Between-repeat spread of each cell: per percentile the min, median and max of the
    per-trial values and ``spread_pct`` = (max - min) / median. ``noisy`` marks cells
    whose p50/p90/p99 spread exceeds :data:`NOISY_SPREAD_PCT` (an A/A check: repeats
    of the same configuration should agree)."""
    p = run.percentiles
    p = p[p["included"] & (p["tag"] == "latency") & p["percentile"].isin(list(percentiles))]
    cols = ["mesh", *DIMS, "percentile", "label", "n", "min_ms", "median_ms",
            "max_ms", "spread_pct", "noisy"]
    if p.empty:
        return pd.DataFrame(columns=cols)
    g = p.groupby(["mesh", *DIMS, "percentile", "label"], as_index=False).agg(
        n=("value_ms", "size"), min_ms=("value_ms", "min"), median_ms=("value_ms", "median"),
        max_ms=("value_ms", "max"), min_count=("count", "min"),
    )
    resolved = g["min_count"] * (1 - g["percentile"] / 100) >= MIN_TAIL_SAMPLES
    g["spread_pct"] = np.where(g["n"] >= 2, (g["max_ms"] - g["min_ms"]) / g["median_ms"] * 100,
                               np.nan)
    g["noisy"] = (
        g["percentile"].isin(list(NOISE_PERCENTILES)) & resolved
        & (g["spread_pct"] > NOISY_SPREAD_PCT)
    )
    return g[cols]
