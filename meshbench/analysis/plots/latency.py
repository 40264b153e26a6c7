"""Latency plots of one run: the pooled percentile spectrum, latency against load, the
distribution, and tail latency over time. One panel per cell, one colour per mesh."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from hdrh.histogram import HdrHistogram
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from meshbench.analysis import histograms as hist
from meshbench.analysis.plots.style import FONT_PT, empty, figure, legend, mesh_colours
from meshbench.analysis.summary import Analysis
from meshbench.config.dimensions import VARIANT_DIMS, Cell

CDF_POINTS = 400
NINES_TICKS = {
    math.log10(2): "50%",
    1.0: "90%",
    2.0: "99%",
    3.0: "99.9%",
    4.0: "99.99%",
    5.0: "99.999%",
    6.0: "99.9999%",
}


VARIANT = list(VARIANT_DIMS)


def _variant(cell: Cell) -> tuple[object, ...]:
    """A cell without its rate: what one line of a latency-vs-rate plot is."""
    return tuple(getattr(cell, d) for d in VARIANT_DIMS)


def _variant_title(cell: Cell, swept: Sequence[str]) -> str:
    return cell.title(swept).partition(", ")[2]


def _nines(q: np.ndarray) -> np.ndarray:
    return np.asarray(-np.log10(1 - np.minimum(q, 99.99999) / 100))


def plot_spectrum(ax: Axes, pooled: HdrHistogram, *fmt: str, **style: Any) -> float:
    """One pooled histogram's latency (ms) against its percentile on the "nines" axis;
    returns the rightmost nines position drawn (0 when the histogram is empty)."""
    n = pooled.get_total_count()
    if n == 0:
        return 0.0
    q = hist.nines_grid(n)
    vals = hist.percentiles_us(hist.counts(pooled), hist.layout(pooled), q.tolist()) / 1000
    x = _nines(q)
    ax.plot(x, vals, *fmt, **style)
    return float(x[-1])


def nines_axis(ax: Axes, top: float) -> None:
    """Percentile ticks up to ``top`` (a nines position) and the spectrum's axis labels."""
    ticks = [t for t in NINES_TICKS if t <= top + 1e-9]
    ax.set_xticks(ticks, [NINES_TICKS[t] for t in ticks])
    ax.set_xlabel("percentile", fontsize=FONT_PT)
    ax.set_ylabel("latency (ms)", fontsize=FONT_PT)


def percentile_spectrum(an: Analysis) -> Figure:
    """Pooled latency at every percentile, on a "nines" axis, one line per mesh."""
    run = an.run
    if run.trials.empty:
        return empty("no trials")
    colours = mesh_colours(run.meshes)
    cells = run.cells
    fig, axes = figure(len(cells))
    for ax, cell in zip(axes, cells, strict=False):
        top = 1.0
        for mesh in run.meshes:
            pooled = run.pooled(mesh, cell)
            top = max(top, plot_spectrum(ax, pooled, color=colours[mesh], label=mesh, lw=2))
        nines_axis(ax, top)
        ax.set_title(cell.title(run.swept), fontsize=FONT_PT + 1)
    legend(axes)
    fig.suptitle("Latency by percentile (pooled over valid trials)", fontsize=FONT_PT + 3)
    return fig


def latency_vs_rate(an: Analysis, percentiles: Sequence[float] = (50.0, 99.0, 99.9)) -> Figure:
    """Pooled p50/p99/p99.9 against the offered rate, per mesh; dots are single trials."""
    run = an.run
    if run.trials.empty:
        return empty("no trials")
    colours = mesh_colours(run.meshes)
    fig, axes = figure(len(percentiles))
    c = an.cells
    p = run.percentiles[run.percentiles["included"] & (run.percentiles["tag"] == "latency")]
    variants = sorted({_variant(cell): cell for cell in run.cells}.values())
    styles = ["-", "--", ":", "-."]
    for ax, q in zip(axes, percentiles, strict=False):
        for i, variant in enumerate(variants):
            vc = c[(c[VARIANT] == pd.Series(variant.as_dict())[VARIANT]).all(axis=1)]
            vp = p[(p[VARIANT] == pd.Series(variant.as_dict())[VARIANT]).all(axis=1)]
            suffix = f" ({_variant_title(variant, run.swept)})" if len(variants) > 1 else ""
            for mesh in run.meshes:
                m = vc[(vc["mesh"] == mesh) & np.isclose(vc["percentile"], q)].sort_values(
                    "rate_rps"
                )
                ax.plot(
                    m["rate_rps"],
                    m["value_ms"],
                    styles[i % len(styles)],
                    marker="o",
                    color=colours[mesh],
                    label=mesh + suffix,
                    lw=2,
                )
                t = vp[(vp["mesh"] == mesh) & np.isclose(vp["percentile"], q)]
                ax.scatter(t["rate_rps"], t["value_ms"], color=colours[mesh], s=12, alpha=0.4)
        ax.set_xlabel("offered rate (rps)", fontsize=FONT_PT)
        ax.set_ylabel("latency (ms)", fontsize=FONT_PT)
        ax.set_title(hist.label(q), fontsize=FONT_PT + 1)
        ax.set_ylim(bottom=0)
    legend(axes)
    fig.suptitle("Latency against load (lines pooled, dots single trials)", fontsize=FONT_PT + 3)
    return fig


def cdf(an: Analysis) -> Figure:
    """Cumulative distribution of pooled latency per mesh (log time axis)."""
    run = an.run
    if run.trials.empty:
        return empty("no trials")
    colours = mesh_colours(run.meshes)
    cells = run.cells
    fig, axes = figure(len(cells))
    for ax, cell in zip(axes, cells, strict=False):
        for mesh in run.meshes:
            pooled = run.pooled(mesh, cell)
            n = pooled.get_total_count()
            if n == 0:
                continue
            # the quantile function at CDF_POINTS probabilities: a few hundred points draw
            # the same curve as every bucket, in a fraction of the time (and SVG size)
            y = np.linspace(0.0, 100.0, CDF_POINTS)
            x = hist.percentiles_us(hist.counts(pooled), hist.layout(pooled), y.tolist()) / 1000
            ax.plot(x, y / 100, color=colours[mesh], label=mesh, lw=2, drawstyle="steps-post")
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("latency (ms, log scale)", fontsize=FONT_PT)
        ax.set_ylabel("fraction of requests", fontsize=FONT_PT)
        ax.set_title(cell.title(run.swept), fontsize=FONT_PT + 1)
    legend(axes, loc="lower right")
    fig.suptitle("Latency distribution (pooled)", fontsize=FONT_PT + 3)
    return fig


def p99_over_time(an: Analysis, column: str = "p99_ms") -> Figure:
    """p99 of every ~1 s interval of every trial: stability, warm-up dashed."""
    run = an.run
    iv = run.intervals
    iv = iv[iv["tag"] == "latency"]
    if iv.empty:
        return empty("no interval histograms")
    colours = mesh_colours(run.meshes)
    cells = run.cells
    fig, axes = figure(len(cells))
    for ax, cell in zip(axes, cells, strict=False):
        g = iv[cell.matches(iv)]
        seen: set[str] = set()
        for _trial_id, t in g.groupby("trial_id", sort=False):
            t = t.sort_values("start_s")
            mesh = str(t["mesh"].iloc[0])
            included = bool(t["included"].iloc[0])
            warm = t[t["warmup"]]
            meas = t[~t["warmup"]]
            style = "-" if included else ":"
            ax.plot(
                meas["start_s"],
                meas[column],
                style,
                color=colours[mesh],
                lw=1.2,
                alpha=0.85,
                label=mesh if mesh not in seen else None,
            )
            if len(warm):
                ax.plot(
                    np.r_[warm["start_s"], meas["start_s"].iloc[:1]],
                    np.r_[warm[column], meas[column].iloc[:1]],
                    "--",
                    color=colours[mesh],
                    lw=1,
                    alpha=0.4,
                )
            seen.add(mesh)
        ax.set_xlabel(
            "seconds since trial start (dashed = warm-up, dotted = invalid)", fontsize=FONT_PT - 1
        )
        ax.set_ylabel(f"{column.removesuffix('_ms')} per interval (ms)", fontsize=FONT_PT)
        ax.set_title(cell.title(run.swept), fontsize=FONT_PT + 1)
        ax.set_ylim(bottom=0)
    legend(axes)
    fig.suptitle("Tail latency over time, one line per trial", fontsize=FONT_PT + 3)
    return fig
