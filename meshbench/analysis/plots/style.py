"""How every plot looks: slide-sized figures, one colour per mesh, one legend, PNG + SVG.

Figures are built without pyplot, so nothing here touches global backend state: they
render headless (Agg) when saved, and a notebook displays them inline.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from meshbench.config.dimensions import AA_CONTROL, BASELINE
from meshbench.results import rundir

FONT_PT = 11
SLIDE_IN = (11.0, 6.2)
PNG_DPI = 120
FORMATS: tuple[Literal["png", "svg"], ...] = ("png", "svg")
_PALETTE = [
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
]
BASELINE_COLOUR = "#444444"
AA_COLOUR = "#9a9a9a"


def mesh_colours(meshes: Sequence[str]) -> dict[str, str]:
    """A stable colour per mesh: the baseline dark grey, the others from a palette."""
    others = [m for m in meshes if m not in (BASELINE, AA_CONTROL)]
    colours = {m: _PALETTE[i % len(_PALETTE)] for i, m in enumerate(others)}
    colours[BASELINE] = BASELINE_COLOUR
    colours[AA_CONTROL] = AA_COLOUR
    return colours


def figure(
    n_panels: int, *, height_in: float | None = None, bottom_in: float = 0.6
) -> tuple[Figure, list[Axes]]:
    """A figure of ``n_panels`` axes, at most three per row, with fixed margins (in
    inches). Fixed margins rather than constrained layout: the layout solver took about
    half the rendering time of a six-panel figure, and these plots' labels are known."""
    cols = min(max(n_panels, 1), 3)
    rows = math.ceil(max(n_panels, 1) / cols)
    w, h = SLIDE_IN
    height = height_in or (h if rows == 1 else h * 0.62 * rows)
    fig = Figure(figsize=(w, height))
    fig.subplots_adjust(
        left=0.75 / w,
        right=1 - 0.2 / w,
        bottom=bottom_in / height,
        top=1 - 0.75 / height,
        wspace=0.3,
        hspace=0.5,
    )
    axes = fig.subplots(rows, cols, squeeze=False).ravel().tolist()
    for ax in axes[n_panels:]:
        ax.axis("off")
        ax.set_label("spare")
    for ax in axes:
        ax.tick_params(labelsize=FONT_PT - 1)
        ax.grid(True, alpha=0.3)
    return fig, axes[: max(n_panels, 1)]


LegendLoc = Literal["best", "lower right", "upper left"]


def legend(axes: Sequence[Axes], fontsize: float = FONT_PT - 1, loc: LegendLoc = "best") -> None:
    """One legend per figure: in a spare grid cell if there is one, else on the first
    panel (every panel has the same meshes; repeating the legend only hides data)."""
    fig = axes[0].get_figure()
    handles, labels = axes[0].get_legend_handles_labels()
    for ax in axes[1:]:  # panels may lack some series (e.g. none "within noise")
        for h, lbl in zip(*ax.get_legend_handles_labels(), strict=True):
            if lbl not in labels:
                handles.append(h)
                labels.append(lbl)
    spare = [a for a in (fig.axes if fig else []) if a.get_label() == "spare"]
    if spare:
        spare[0].legend(handles, labels, loc="center", fontsize=fontsize, frameon=False)
    else:
        axes[0].legend(handles, labels, fontsize=fontsize, loc=loc)


def empty(message: str) -> Figure:
    """A short figure that says why there is nothing to plot."""
    fig = Figure(figsize=(SLIDE_IN[0], 2.0))
    ax = fig.add_subplot()
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=FONT_PT + 1)
    return fig


def render(fig: Figure, fmt: Literal["png", "svg"]) -> bytes:
    """``fig`` as a PNG (at :data:`PNG_DPI`) or an SVG file's bytes."""
    buf = io.BytesIO()
    if fmt == "png":
        fig.savefig(buf, format=fmt, dpi=PNG_DPI)
    else:
        fig.savefig(buf, format=fmt)
    return buf.getvalue()


def save(fig: Figure, out_dir: Path, name: str, root: Path | None = None) -> list[Path]:
    """Write ``<name>.png`` and ``<name>.svg`` into ``out_dir``, each atomically (a reader
    or a kill finds the whole file or none); return both paths. ``root``: the run or report
    directory ``out_dir`` lies in, below which no link is followed (default: ``out_dir``)."""
    base = root if root is not None else out_dir
    rel = out_dir.relative_to(base)
    return [rundir.write_bytes(base, rel / f"{name}.{fmt}", render(fig, fmt)) for fmt in FORMATS]
