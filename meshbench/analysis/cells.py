"""Pooled per-cell percentiles and trial counts (descriptive: no interval is about them)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from meshbench.analysis import histograms as hist
from meshbench.analysis.stored_run import Run
from meshbench.config.dimensions import DIMS, cell_of

CELL_COLUMNS = [
    "mesh",
    *DIMS,
    "tag",
    "percentile",
    "label",
    "value_ms",
    "trials_valid",
    "trials_invalid",
    "requests",
]


def trial_counts(run: Run) -> pd.DataFrame:
    """Per cell: included (valid, measured) trials, excluded trials and requests pooled."""
    t = run.trials
    if t.empty:
        return pd.DataFrame(columns=["mesh", *DIMS, "trials_valid", "trials_invalid", "requests"])
    g = t.assign(excluded=~t["included"], req=t["requests"].where(t["included"], 0).fillna(0))
    out = g.groupby(["mesh", *DIMS], as_index=False).agg(
        trials_valid=("included", "sum"),
        trials_invalid=("excluded", "sum"),
        requests=("req", "sum"),
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
            records.append(
                {
                    "mesh": row["mesh"],
                    **cell.as_dict(),
                    "tag": tag,
                    "percentile": q,
                    "label": hist.label(q),
                    "value_ms": float(v),
                    "trials_valid": row["trials_valid"],
                    "trials_invalid": row["trials_invalid"],
                    "requests": row["requests"],
                }
            )
    return pd.DataFrame.from_records(records, columns=CELL_COLUMNS)
