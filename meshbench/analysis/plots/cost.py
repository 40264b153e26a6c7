"""What the mesh costs: CPU and memory per cell and mesh, stacked by component."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from meshbench.analysis.plots.style import FONT_PT, empty, figure, mesh_colours
from meshbench.analysis.summary import Analysis
from meshbench.config.dimensions import DIMS

HATCHES = {"sidecar": "", "service": "//", "generator": ".."}
"""Hatching per component, in stacking order (bottom first)."""


def _patch(component: str) -> Patch:
    return Patch(facecolor="#bbbbbb", edgecolor="white", hatch=HATCHES[component], label=component)


def resource_cost(an: Analysis) -> Figure:
    """Mean CPU (cores) and memory (MiB) per cell and mesh, stacked by component."""
    run = an.run
    c = run.cost[run.cost["included"].astype(bool)]
    if c.empty or c[["cpu_cores", "rss_mib"]].isna().all().all():
        return empty("no resource measurements")
    colours = mesh_colours(run.meshes)
    cells = run.cells
    fig, axes = figure(2, bottom_in=0.75 if len(cells) <= 4 else 1.3)
    comps = [
        x for x in HATCHES if c[c["component"] == x][["cpu_cores", "rss_mib"]].notna().any().any()
    ]
    g = c.groupby(["mesh", *DIMS, "component"], as_index=False)[["cpu_cores", "rss_mib"]].mean()
    width = 0.8 / max(len(run.meshes), 1)
    for ax, (col, unit) in zip(
        axes, (("cpu_cores", "CPU (cores)"), ("rss_mib", "RSS (MiB)")), strict=True
    ):
        top = 0.0
        for i, mesh in enumerate(run.meshes):
            x = np.arange(len(cells)) + (i - (len(run.meshes) - 1) / 2) * width
            bottom = np.zeros(len(cells))
            for comp in comps:
                gc = g[(g["component"] == comp) & (g["mesh"] == mesh)]
                vals = np.nan_to_num(
                    np.array(
                        [float(gc.loc[cell.matches(gc), col].sum(min_count=1)) for cell in cells]
                    )
                )
                ax.bar(
                    x,
                    vals,
                    width=width * 0.95,
                    bottom=bottom,
                    color=colours[mesh],
                    hatch=HATCHES[comp],
                    edgecolor="white",
                    alpha=0.9,
                )
                bottom += vals
            top = max(top, float(bottom.max(initial=0.0)))
        ax.set_xticks(
            np.arange(len(cells)),
            [cell.title(run.swept) for cell in cells],
            fontsize=FONT_PT - 2,
            rotation=0 if len(cells) <= 4 else 45,
            ha="center" if len(cells) <= 4 else "right",
        )
        ax.set_ylabel(unit, fontsize=FONT_PT)
        ax.set_ylim(0, max(top, 1e-3) * 1.35)  # room for the legend
        handles = [Patch(facecolor=colours[m], label=m) for m in run.meshes]
        handles += [_patch(x) for x in comps]
        ax.legend(handles=handles, fontsize=FONT_PT - 2, ncols=2)
    axes[0].set_title("CPU", fontsize=FONT_PT + 1)
    axes[1].set_title("Memory", fontsize=FONT_PT + 1)
    fig.suptitle(
        "Resource cost per trial (mean over valid trials; hatching = component)",
        fontsize=FONT_PT + 3,
    )
    return fig
