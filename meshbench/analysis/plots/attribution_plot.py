"""Where the overhead goes, drawn: each arm's mean request as a waterfall of its parts
along the request's path (wire into a pod, its inbound sidecar, its app, its outbound
sidecar, ... and back), one colour per kind of part."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from meshbench.analysis.attribution import KINDS
from meshbench.analysis.plots.style import FONT_PT, figure
from meshbench.analysis.summary import Analysis
from meshbench.dimensions import BASELINE

KIND_COLOURS = {"wire": "#9a9a9a", "inbound": "#d62728", "app": "#1f77b4", "outbound": "#ff7f0e"}


def where_overhead_goes(an: Analysis) -> Figure | None:
    """Stacked bars: the mean time (ms) each arm's requests spent in each part."""
    a = an.attribution
    if a is None or a.empty:
        return None
    parts = a.parts
    first = parts.iloc[0]
    cell = parts[(parts["rate_rps"] == first["rate_rps"]) & (parts["depth"] == first["depth"])]
    meshes = [BASELINE, *sorted(set(cell["mesh"]))]
    order = list(dict.fromkeys(cell["part"]))  # the request's path order
    fig, [ax] = figure(1, bottom_in=0.9)
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
            if width > 0.08:
                ax.text(
                    left + width / 2,
                    y,
                    part.split(" ")[0][:8],
                    ha="center",
                    va="center",
                    fontsize=FONT_PT - 4,
                    color="white",
                )
            left += width
    ax.set_yticks(np.arange(len(meshes)), meshes)
    ax.invert_yaxis()
    ax.set_xlabel("mean time per request (ms), along its path")
    ax.set_title(f"Where each arm's time goes ({first['rate_rps']:g} rps)", fontsize=FONT_PT + 1)
    ax.legend(
        handles=[Patch(color=KIND_COLOURS[k], label=k) for k in KINDS],
        fontsize=FONT_PT - 1,
        loc="lower right",
    )
    return fig
