"""Plots for a decision review (matplotlib, PNG and SVG, sized for a 16:9 slide).

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot, so
nothing here touches global backend state: figures render headless (Agg) when saved,
and a notebook displays them inline. One panel per rate (and depth, when swept);
one colour per mesh, the same in every plot.

- :mod:`.style`: figure layout, colours, legend, :func:`save`
- :mod:`.latency`: percentile spectrum, latency against rate, CDF, p99 over time
- :mod:`.overhead_plots`: overhead with intervals and verdicts, the repeats behind it,
  overhead against a swept setting (:mod:`.verdict_marks` draws the verdicts)
- :mod:`.cost`: CPU and memory by component
- :mod:`.attribution_plot`: where each arm's time goes, part by part (attribution mode)
- :mod:`.comparison`: two runs (``meshbench compare``)

This module is the registry the report renders (:data:`PLOTS`) and the names a notebook
calls (``plots.percentile_spectrum(analysis)``, ``plots.save(fig, out_dir, name)``).
"""

from __future__ import annotations

from collections.abc import Callable

from matplotlib.figure import Figure

from meshbench.analysis.plots.attribution_plot import where_overhead_goes
from meshbench.analysis.plots.cost import resource_cost
from meshbench.analysis.plots.latency import (
    cdf,
    latency_vs_rate,
    p99_over_time,
    percentile_spectrum,
)
from meshbench.analysis.plots.overhead_plots import overhead_ci, overhead_vs, repeat_blocks
from meshbench.analysis.plots.style import save
from meshbench.analysis.summary import Analysis

PLOTS: dict[str, Callable[[Analysis], Figure | None]] = {
    "percentile_spectrum": percentile_spectrum,
    "latency_vs_rate": latency_vs_rate,
    "overhead_ci": overhead_ci,
    "repeat_blocks": repeat_blocks,
    "cdf": cdf,
    "p99_over_time": p99_over_time,
    "resource_cost": resource_cost,
    "where_overhead_goes": where_overhead_goes,
    "overhead_vs_depth": lambda an: overhead_vs(an, "depth"),
    "overhead_vs_payload": lambda an: overhead_vs(an, "payload_bytes"),
    "overhead_vs_connections": lambda an: overhead_vs(an, "connections"),
}
"""Every report plot by file name, in report order."""

__all__ = [
    "PLOTS",
    "cdf",
    "latency_vs_rate",
    "overhead_ci",
    "overhead_vs",
    "p99_over_time",
    "percentile_spectrum",
    "repeat_blocks",
    "resource_cost",
    "save",
    "where_overhead_goes",
]
