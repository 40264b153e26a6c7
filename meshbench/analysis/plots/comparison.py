"""Plots of two runs side by side (``meshbench compare``): both spectra, and B - A."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from matplotlib.figure import Figure

from meshbench.analysis.compare import Comparison
from meshbench.analysis.plots.latency import nines_axis, plot_spectrum
from meshbench.analysis.plots.style import FONT_PT, empty, figure, legend, mesh_colours
from meshbench.analysis.plots.verdict_marks import verdict_points
from meshbench.config.dimensions import DIMS, cell_of


def comparison_spectrum(cmp: Comparison) -> Figure:
    """Both runs' percentile spectra: solid = A, dashed = B."""
    run_a, run_b = cmp.a.run, cmp.b.run
    meshes = [m for m in run_a.meshes if m in run_b.meshes]
    colours = mesh_colours(meshes)
    cells = sorted(set(run_a.cells) & set(run_b.cells))
    fig, axes = figure(len(cells))
    name_a = str(cmp.diff.attrs.get("a", "A"))
    name_b = str(cmp.diff.attrs.get("b", "B"))
    for ax, cell in zip(axes, cells, strict=False):
        top = 1.0
        for run, style, name in ((run_a, "-", name_a), (run_b, "--", name_b)):
            for mesh in meshes:
                pooled = run.pooled(mesh, cell)
                drawn = plot_spectrum(
                    ax, pooled, style, color=colours[mesh], lw=2, label=f"{mesh} ({name})"
                )
                top = max(top, drawn)
        nines_axis(ax, top)
        ax.set_title(cell.title(run_a.swept), fontsize=FONT_PT + 1)
    legend(axes, fontsize=FONT_PT - 2)
    fig.suptitle("Latency by percentile: A solid, B dashed", fontsize=FONT_PT + 3)
    return fig


def comparison_diff(cmp: Comparison) -> Figure:
    """B - A per mesh and percentile (overheads; none's latency) with its interval."""
    d = cmp.diff
    if d.empty:
        return empty("no cells in common")
    run = cmp.a.run
    meshes = [m for m in run.meshes if m in set(d["mesh"])]
    colours = mesh_colours(meshes)
    cells = sorted({cell_of(r) for r in d[list(DIMS)].to_dict("records")})
    fig, axes = figure(len(cells))
    labels = [lbl for lbl in dict.fromkeys(d["label"]) if lbl != "max"]
    width = 0.8 / max(len(meshes), 1)
    for ax, cell in zip(axes, cells, strict=False):
        g = d[cell.matches(d)]
        for i, mesh in enumerate(meshes):
            m = g[g["mesh"] == mesh].set_index("label").reindex(labels)
            x = np.arange(len(labels)) + (i - (len(meshes) - 1) / 2) * width
            verdict_points(ax, x, m, colours[mesh], mesh, "diff_ms")
        ax.axhline(0, color="black", lw=1)
        ax.set_xticks(np.arange(len(labels)), labels)
        ax.set_ylabel("B - A (ms)", fontsize=FONT_PT)
        ax.set_title(cell.title(run.swept), fontsize=FONT_PT + 1)
    legend(axes, fontsize=FONT_PT - 3)
    conf = round(float(d.attrs.get("confidence", 0.95)) * 100)
    fig.suptitle(
        f"Run B minus run A (meshes: overhead; none: latency), {conf}% interval",
        fontsize=FONT_PT + 2,
    )
    return fig


COMPARISON_PLOTS: dict[str, Callable[[Comparison], Figure]] = {
    "compare_spectrum": comparison_spectrum,
    "compare_diff": comparison_diff,
}
"""Every comparison plot by file name, in report order."""
