"""Public analysis API: read a stored run, pool its histograms, compare meshes.

Reads stored runs through :mod:`meshbench.results`, with the scenario's declarations from
:mod:`meshbench.config` (the analysis settings, the dimensions) and the host's counters'
arithmetic from :mod:`meshbench.host`; never imports platform, load or runner code (a test
holds every package to its layer), so a stored run can be re-analysed anywhere.
Typical use (also what the notebook does)::

    from meshbench.analysis import load_run, analyse
    run = load_run("results/20250101T000000Z-default")
    a = analyse(run)
    a.cells       # pooled percentiles per mesh x rate (long form)
    a.overhead    # mesh - none per percentile: within-repeat contrast, interval, verdict
"""

from meshbench.analysis.cells import cell_percentiles, trial_counts
from meshbench.analysis.compare import Comparison, compare_runs
from meshbench.analysis.diagnostics import design_diagnostics
from meshbench.analysis.gate import Gate, gate_runs
from meshbench.analysis.histograms import PERCENTILES, label, percentiles_ms, pool
from meshbench.analysis.overhead import cell_matrix, overhead
from meshbench.analysis.sizing import Sizing, size_run
from meshbench.analysis.slo import Slo, max_rate_within_budget, slo_verdicts
from meshbench.analysis.stored_run import Run, load_run
from meshbench.analysis.summary import Analysis, analyse
from meshbench.config.dimensions import AA_CONTROL, BASELINE, CELL, DIMS, Cell

__all__ = [
    "AA_CONTROL",
    "BASELINE",
    "CELL",
    "DIMS",
    "PERCENTILES",
    "Analysis",
    "Cell",
    "Comparison",
    "Gate",
    "Run",
    "Sizing",
    "Slo",
    "analyse",
    "cell_matrix",
    "cell_percentiles",
    "compare_runs",
    "design_diagnostics",
    "gate_runs",
    "label",
    "load_run",
    "max_rate_within_budget",
    "overhead",
    "percentiles_ms",
    "pool",
    "size_run",
    "slo_verdicts",
    "trial_counts",
]
