"""How an effect is drawn: its interval as an error bar, its verdict as a marker, the
practical threshold as a grey band. Shared by the overhead and the run-comparison plots."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from numpy.typing import NDArray

from meshbench.analysis import verdicts as vd

VERDICT_MARKERS: dict[str, tuple[str, bool]] = {
    vd.SLOWER: ("o", True),
    vd.FASTER: ("^", True),
    vd.NO_CHANGE: ("s", True),
    vd.INCONCLUSIVE: ("o", False),
    vd.TOO_FEW: ("o", False),
    vd.DESCRIPTIVE: ("x", True),
    vd.NO_DATA: ("x", True),
}
"""Marker shape and whether it is filled, per verdict word: the same in every plot."""


def verdict_points(
    ax: Axes,
    x: NDArray[np.floating[Any]],
    rows: pd.DataFrame,
    colour: str,
    label: str,
    estimate: str,
) -> None:
    """Error bars from ``ci_low_ms``..``ci_high_ms`` and one marker per verdict word."""
    y = rows[estimate].to_numpy(dtype=float)
    err = np.nan_to_num(
        np.vstack(
            [
                y - rows["ci_low_ms"].to_numpy(dtype=float),
                rows["ci_high_ms"].to_numpy(dtype=float) - y,
            ]
        ),
        nan=0.0,
    )
    ax.errorbar(x, y, yerr=np.clip(err, 0, None), fmt="none", ecolor=colour, capsize=4, lw=1.5)
    verdicts = rows["verdict"].fillna(vd.NO_DATA).astype(str).to_numpy()
    for word in dict.fromkeys(verdicts):
        sel = verdicts == word
        marker, filled = VERDICT_MARKERS.get(word, ("x", True))
        if marker == "x":
            ax.scatter(
                x[sel], y[sel], marker="x", s=45, zorder=3, color=colour, label=f"{label}: {word}"
            )
        else:
            ax.scatter(
                x[sel],
                y[sel],
                marker=marker,
                s=45,
                zorder=3,
                facecolor=colour if filled else "white",
                edgecolor=colour,
                label=f"{label}: {word}",
            )


def threshold_band(ax: Axes, rows: pd.DataFrame, x: NDArray[np.float64]) -> None:
    """Shade ±threshold (the practical band) behind the points."""
    thr = rows["threshold_ms"].to_numpy(dtype=float) if "threshold_ms" in rows else None
    if thr is None or not np.isfinite(thr).any():
        return
    for xi, t in zip(x, thr, strict=True):
        if np.isfinite(t):
            ax.fill_between(
                [xi - 0.4, xi + 0.4], -t, t, color="#cccccc", alpha=0.35, lw=0, zorder=0
            )
