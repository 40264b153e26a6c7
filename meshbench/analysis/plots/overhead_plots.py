"""The mesh's overhead against the ``none`` baseline: per percentile with its interval and
verdict, the within-repeat pairs behind it, and against a swept setting."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from meshbench.analysis import histograms as hist
from meshbench.analysis.overhead import cell_matrix
from meshbench.analysis.plots.style import FONT_PT, empty, figure, legend, mesh_colours
from meshbench.analysis.plots.verdict_marks import threshold_band, verdict_points
from meshbench.analysis.summary import Analysis
from meshbench.config.dimensions import BASELINE, DIMENSIONS, DIMS, Cell

DIM_LABELS = {d.name: d.axis for d in DIMENSIONS if d.axis}
"""Axis label of every dimension that has an overhead-against-it plot."""


def overhead_ci(an: Analysis) -> Figure:
    """Overhead against none per percentile with its interval and a marker per verdict.
    With one cell, each percentile gets its own panel and scale (a p50 interval of a few
    tenths of a millisecond is invisible on the axis of a p99.9 one of tens); with
    several, one panel per cell on a symmetric-log axis (linear within 1 ms)."""
    run = an.run
    o = an.overhead
    if o.empty:
        return empty(
            "no overhead: the run has no 'none' baseline"
            if not run.has_baseline
            else "no overhead computed"
        )
    colours = mesh_colours(run.meshes)
    cells = run.cells
    meshes = [m for m in run.meshes if m != BASELINE]
    labels = [hist.label(q) for q in an.percentiles if q < 100]
    conf = round(an.confidence * 100)
    title = (
        f"Sidecar overhead, within-repeat contrasts with {conf}% interval "
        "(grey band: practical threshold)"
    )
    if len(cells) == 1:
        return _per_percentile(an, cells[0], meshes, labels, colours, title)
    fig, axes = figure(len(cells))
    width = 0.8 / max(len(meshes), 1)
    for ax, cell in zip(axes, cells, strict=False):
        g = o[cell.matches(o)]
        base = g[g["mesh"] == meshes[0]].set_index("label").reindex(labels) if meshes else g
        threshold_band(ax, base, np.arange(len(labels), dtype=float))
        for i, mesh in enumerate(meshes):
            m = g[g["mesh"] == mesh].set_index("label").reindex(labels)
            x = np.arange(len(labels)) + (i - (len(meshes) - 1) / 2) * width
            verdict_points(ax, x, m, colours[mesh], mesh, "overhead_ms")
        ax.axhline(0, color="black", lw=1)
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set_xticks(np.arange(len(labels)), labels)
        ax.set_ylabel("overhead vs none (ms, symlog)", fontsize=FONT_PT)
        ax.set_title(cell.title(run.swept), fontsize=FONT_PT + 1)
    legend(axes, fontsize=FONT_PT - 3)
    fig.suptitle(title, fontsize=FONT_PT + 2)
    return fig


def _per_percentile(
    an: Analysis,
    cell: Cell,
    meshes: list[str],
    labels: list[str],
    colours: dict[str, str],
    title: str,
) -> Figure:
    """One cell: a panel per percentile, each with its own scale, the meshes side by side."""
    o = an.overhead
    g = o[cell.matches(o)]
    fig, axes = figure(len(labels))
    x = np.arange(len(meshes), dtype=float)
    for ax, label in zip(axes, labels, strict=False):
        rows = g[g["label"] == label].set_index("mesh").reindex(meshes)
        threshold_band(ax, rows, x)
        for i, mesh in enumerate(meshes):
            verdict_points(
                ax, x[i : i + 1], rows.iloc[i : i + 1], colours[mesh], mesh, "overhead_ms"
            )
        ax.axhline(0, color="black", lw=1)
        ax.set_xticks(x, meshes)
        ax.set_xlim(-0.6, len(meshes) - 0.4)
        ax.set_ylabel("overhead vs none (ms)", fontsize=FONT_PT)
        ax.set_title(f"{label}, {cell.title(an.run.swept)}", fontsize=FONT_PT + 1)
    legend(axes, fontsize=FONT_PT - 3)
    fig.suptitle(title, fontsize=FONT_PT + 2)
    return fig


def repeat_blocks(an: Analysis) -> Figure:
    """One line per repeat from its none trial to the same repeat's mesh trial, per mesh
    and primary percentile: why the verdict is what it is."""
    run = an.run
    meshes = [m for m in run.meshes if m != BASELINE]
    if not run.has_baseline or not meshes:
        return empty("no baseline to pair repeats with")
    matrices = {cell: cell_matrix(run, cell, an.primary) for cell in run.cells}
    panels = [(cell, j, q) for cell in run.cells for j, q in enumerate(an.primary)]
    fig, axes = figure(len(panels))
    colours = mesh_colours(run.meshes)
    for ax, (cell, j, q) in zip(axes, panels, strict=False):
        mat = matrices[cell]
        y = mat.values_us[:, :, j] / 1000
        b = mat.arms.index(BASELINE)
        for k, mesh in enumerate(meshes, start=1):
            i = mat.arms.index(mesh)
            for r in range(y.shape[1]):
                if np.isfinite(y[b, r]) and np.isfinite(y[i, r]):
                    ax.plot(
                        [k - 0.8, k],
                        [y[b, r], y[i, r]],
                        "-o",
                        color=colours[mesh],
                        alpha=0.6,
                        ms=3,
                        lw=1,
                    )
        ax.set_xticks(
            [k - 0.4 for k in range(1, len(meshes) + 1)],
            [f"{BASELINE} → {m}" for m in meshes],
            fontsize=FONT_PT - 2,
        )
        ax.set_ylabel(f"{hist.label(q)} per trial (ms)", fontsize=FONT_PT)
        ax.set_title(f"{cell.title(run.swept)}, {hist.label(q)}", fontsize=FONT_PT + 1)
    fig.suptitle(
        "Each repeat's none trial joined to its mesh trial (one line per repeat)",
        fontsize=FONT_PT + 2,
    )
    return fig


def overhead_vs(
    an: Analysis, dim: str, percentiles: Sequence[float] = (50.0, 99.0)
) -> Figure | None:
    """Overhead against a swept dimension (``depth``, ``payload_bytes``, ``connections``),
    one panel per rate (and setting of the other swept dimensions); None when not swept."""
    run = an.run
    if dim not in run.swept or an.overhead.empty:
        return None
    colours = mesh_colours(run.meshes)
    others = [d for d in DIMS if d != dim]
    panels = sorted(
        {tuple(getattr(c, d) for d in others) for c in run.cells},
        key=lambda k: tuple(str(v) for v in k),
    )
    fig, axes = figure(len(panels))
    o = an.overhead
    for ax, key in zip(axes, panels, strict=False):
        sel = o
        for d, v in zip(others, key, strict=True):
            sel = sel[np.isclose(sel[d], v)] if d == "rate_rps" else sel[sel[d] == v]
        for mesh in [m for m in run.meshes if m != BASELINE]:
            for q, marker in zip(percentiles, "os^", strict=False):
                m = sel[(sel["mesh"] == mesh) & np.isclose(sel["percentile"], q)].sort_values(dim)
                y = m["overhead_ms"].to_numpy(dtype=float)
                err = np.nan_to_num(
                    np.vstack(
                        [
                            y - m["ci_low_ms"].to_numpy(dtype=float),
                            m["ci_high_ms"].to_numpy(dtype=float) - y,
                        ]
                    )
                )
                ax.errorbar(
                    m[dim],
                    y,
                    yerr=err,
                    fmt=f"-{marker}",
                    color=colours[mesh],
                    capsize=4,
                    label=f"{mesh} {hist.label(q)}",
                )
        ax.axhline(0, color="black", lw=1)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(DIM_LABELS[dim], fontsize=FONT_PT)
        ax.set_ylabel("overhead vs none (ms)", fontsize=FONT_PT)
        title = Cell(**{**dict(zip(others, key, strict=True)), dim: 0}).title(
            [d for d in run.swept if d != dim]
        )
        ax.set_title(title, fontsize=FONT_PT + 1)
    legend(axes, fontsize=FONT_PT - 2)
    fig.suptitle(f"Sidecar overhead against {DIM_LABELS[dim]}", fontsize=FONT_PT + 3)
    return fig
