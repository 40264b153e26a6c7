"""Public analysis API: read a stored run, pool its histograms, compare meshes.

Reads only :mod:`meshbench.results`; never imports platform or load code, so a stored
run can be re-analysed anywhere. Typical use (also what the notebook does)::

    from meshbench.analysis import load_run, analyse
    run = load_run("results/20250101T000000Z-default")
    a = analyse(run)
    a.cells       # pooled percentiles per mesh x rate (long form)
    a.overhead    # mesh - none per percentile, bootstrap CI, verdict
"""

from meshbench.analysis.cells import cell_percentiles, noise, trial_counts
from meshbench.analysis.compare import Comparison, compare_runs
from meshbench.analysis.histograms import PERCENTILES, label, percentiles_ms, pool
from meshbench.analysis.overhead import bootstrap_difference, overhead
from meshbench.analysis.run import AA_CONTROL, BASELINE, CELL, DIMS, Cell, Run, Slo, load_run
from meshbench.analysis.slo import max_rate_within_budget, slo_verdicts
from meshbench.analysis.summary import Analysis, analyse

__all__ = [
    "AA_CONTROL",
    "BASELINE",
    "CELL",
    "DIMS",
    "PERCENTILES",
    "Analysis",
    "Cell",
    "Comparison",
    "Run",
    "Slo",
    "analyse",
    "bootstrap_difference",
    "cell_percentiles",
    "compare_runs",
    "label",
    "load_run",
    "max_rate_within_budget",
    "noise",
    "overhead",
    "percentiles_ms",
    "pool",
    "slo_verdicts",
    "trial_counts",
]
