"""Where the overhead goes, drawn: each arm's mean request as a waterfall of its parts
along the request's path (wire into a pod, its inbound sidecar, its app, its outbound
sidecar, ... and back), one colour per kind of part."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from meshbench.analysis.attribution import CELL_COLS, KINDS, captured_cell_title
from meshbench.analysis.plots.style import FONT_PT, figure
from meshbench.analysis.summary import Analysis
from meshbench.config.dimensions import BASELINE

MAX_PANELS = 6
"""Cells drawn at most; the tables list every cell."""
LEFT_IN = 1.1
"""Left margin (inches) for the arms' names."""

KIND_COLOURS = {"wire": "#9a9a9a", "inbound": "#d62728", "app": "#1f77b4", "outbound": "#ff7f0e"}


def where_overhead_goes(an: Analysis) -> Figure | None:
    """Stacked bars: the mean time (ms) each arm's requests spent in each part, one panel
    per cell (protocol, rate, depth, ... as swept), at most six panels."""
    a = an.attribution
    if a is None or a.empty:
        return None
    parts = a.parts
    cells = list(parts.groupby(list(CELL_COLS), dropna=False, sort=False))[:MAX_PANELS]
    fig, axes = figure(len(cells), bottom_in=1.1)
    fig.subplots_adjust(left=LEFT_IN / fig.get_figwidth())  # room for the arms' names
    for i, (ax, (_, cell)) in enumerate(zip(axes, cells, strict=False)):
        _waterfall(ax, cell, names=i % 3 == 0)
        ax.set_title(captured_cell_title(cell.iloc[0].to_dict(), an.run.swept), fontsize=FONT_PT)
    fig.legend(
        handles=[Patch(color=KIND_COLOURS[k], label=k) for k in KINDS],
        fontsize=FONT_PT - 1,
        loc="lower center",
        ncol=len(KINDS),
        frameon=False,
    )
    fig.suptitle("Where each arm's time goes (mean per request, along its path)")
    return fig


def _waterfall(ax: Axes, cell: pd.DataFrame, *, names: bool) -> None:
    """One cell's arms as horizontal stacked bars, baseline first; ``names``: label the
    bars with the arms (the first panel of each row; the others share its order)."""
    meshes = [BASELINE, *sorted(set(cell["mesh"]))]
    order = list(dict.fromkeys(cell["part"]))  # the request's path order
    for y, mesh in enumerate(meshes):
        rows = cell[cell["mesh"] == (meshes[1] if mesh == BASELINE else mesh)]
        left = 0.0
        for part in order:
            r = rows[rows["part"] == part]
            if r.empty:
                continue
            width = float(r["none_ms"].iloc[0] if mesh == BASELINE else r["mesh_ms"].iloc[0])
            kind = str(r["kind"].iloc[0])
            ax.barh(y, width, left=left, color=KIND_COLOURS[kind], edgecolor="white")
            left += width
    ax.set_yticks(np.arange(len(meshes)), meshes if names else [])
    ax.invert_yaxis()
    ax.set_xlabel("mean time per request (ms)")
