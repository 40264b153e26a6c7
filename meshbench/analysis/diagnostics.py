"""How noisy the run was, and where: the figures behind every interval.

Per cell and percentile, from the two-way (arm + repeat) fit of the per-trial
percentiles: the drift shared by the arms of a repeat (it cancels in every contrast),
the per-trial noise left after it (what the intervals rest on), and the A/A contrast
(``none-aa - none``, a measured noise floor). Unlike a between-repeat range, none of
these grows with the number of repeats: more repeats only make them better estimated.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from meshbench.analysis import blocks
from meshbench.analysis import histograms as hist
from meshbench.analysis.overhead import cell_matrix
from meshbench.analysis.stored_run import Run
from meshbench.config.dimensions import AA_CONTROL, DIMS

DIAGNOSTIC_COLUMNS = [
    *DIMS,
    "percentile",
    "label",
    "arms",
    "complete_blocks",
    "interleaved",
    "drift_sd_ms",
    "residual_sd_ms",
    "contrast_sd_ms",
    "aa_ms",
    "aa_ci_low_ms",
    "aa_ci_high_ms",
    "aa_verdict",
]


def design_diagnostics(
    run: Run, percentiles: Sequence[float], overhead: pd.DataFrame, tag: str = "latency"
) -> pd.DataFrame:
    """One row per cell x percentile (see the module docstring); ``overhead`` is the
    run's :func:`meshbench.analysis.overhead.overhead` frame, for the A/A row."""
    records = []
    for cell in run.cells:
        m = cell_matrix(run, cell, percentiles, tag)
        for j, q in enumerate(percentiles):
            fit = blocks.two_way(m.values_us[:, :, j]) if m.interleaved else None
            aa = (
                overhead[
                    (overhead["mesh"] == AA_CONTROL)
                    & cell.matches(overhead)
                    & np.isclose(overhead["percentile"], q)
                ]
                if len(overhead)
                else None
            )
            a = aa.iloc[0] if aa is not None and len(aa) else None
            records.append(
                {
                    **cell.as_dict(),
                    "percentile": q,
                    "label": hist.label(q),
                    "arms": len(m.arms),
                    "complete_blocks": fit.n_blocks if fit else 0,
                    "interleaved": m.interleaved,
                    "drift_sd_ms": math.sqrt(fit.drift_var) / 1000 if fit else math.nan,
                    "residual_sd_ms": math.sqrt(fit.residual_var) / 1000 if fit else math.nan,
                    "contrast_sd_ms": math.sqrt(2 * fit.residual_var) / 1000 if fit else math.nan,
                    "aa_ms": a["overhead_ms"] if a is not None else math.nan,
                    "aa_ci_low_ms": a["ci_low_ms"] if a is not None else math.nan,
                    "aa_ci_high_ms": a["ci_high_ms"] if a is not None else math.nan,
                    "aa_verdict": a["verdict"] if a is not None else "",
                }
            )
    return pd.DataFrame.from_records(records, columns=DIAGNOSTIC_COLUMNS)
