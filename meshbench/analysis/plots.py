"""Plots for a decision review (matplotlib, PNG and SVG, sized for a 16:9 slide).

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot, so
nothing here touches global backend state: figures render headless (Agg) when saved,
and a notebook displays them inline. One panel per rate (and depth, when swept);
one colour per mesh, the same in every plot.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter
from numpy.typing import NDArray

from meshbench.analysis import histograms as hist
from meshbench.analysis import verdicts as vd
from meshbench.analysis.compare import Comparison
from meshbench.analysis.overhead import cell_matrix
from meshbench.analysis.summary import Analysis
from meshbench.dimensions import AA_CONTROL, BASELINE, DIMENSIONS, DIMS, VARIANT_DIMS, Cell, cell_of

FONT_PT = 11
SLIDE_IN = (11.0, 6.2)
PNG_DPI = 120
CDF_POINTS = 400
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


def mesh_colours(meshes: Sequence[str]) -> dict[str, str]:
    """A stable colour per mesh: the baseline dark grey, the others from a palette."""
    others = [m for m in meshes if m not in (BASELINE, AA_CONTROL)]
    colours = {m: _PALETTE[i % len(_PALETTE)] for i, m in enumerate(others)}
    colours[BASELINE] = BASELINE_COLOUR
    colours[AA_CONTROL] = AA_COLOUR
    return colours


def _figure(
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


def _legend(axes: Sequence[Axes], fontsize: float = FONT_PT - 1, loc: LegendLoc = "best") -> None:
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


def _variant(cell: Cell) -> tuple[object, ...]:
    """A cell without its rate: what one line of a latency-vs-rate plot is."""
    return tuple(getattr(cell, d) for d in VARIANT_DIMS)


def _variant_title(cell: Cell, swept: Sequence[str]) -> str:
    return cell.title(swept).partition(", ")[2]


def _empty(message: str) -> Figure:
    fig = Figure(figsize=(SLIDE_IN[0], 2.0))
    ax = fig.add_subplot()
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=FONT_PT + 1)
    return fig


def _nines(q: np.ndarray) -> np.ndarray:
    return np.asarray(-np.log10(1 - np.minimum(q, 99.99999) / 100))


def percentile_spectrum(an: Analysis) -> Figure:
    """Pooled latency at every percentile, on a "nines" axis, one line per mesh."""
    run = an.run
    if run.trials.empty:
        return _empty("no trials")
    colours = mesh_colours(run.meshes)
    cells = run.cells
    fig, axes = _figure(len(cells))
    for ax, cell in zip(axes, cells, strict=False):
        top = 1.0
        for mesh in run.meshes:
            pooled = run.pooled(mesh, cell)
            n = pooled.get_total_count()
            if n == 0:
                continue
            q = hist.nines_grid(n)
            vals = hist.percentiles_us(hist.counts(pooled), hist.layout(pooled), q.tolist()) / 1000
            x = _nines(q)
            top = max(top, float(x[-1]))
            ax.plot(x, vals, color=colours[mesh], label=mesh, lw=2)
        ticks = [t for t in NINES_TICKS if t <= top + 1e-9]
        ax.set_xticks(ticks, [NINES_TICKS[t] for t in ticks])
        ax.set_xlabel("percentile", fontsize=FONT_PT)
        ax.set_ylabel("latency (ms)", fontsize=FONT_PT)
        ax.set_title(cell.title(run.swept), fontsize=FONT_PT + 1)
    _legend(axes)
    fig.suptitle("Latency by percentile (pooled over valid trials)", fontsize=FONT_PT + 3)
    return fig


def latency_vs_rate(an: Analysis, percentiles: Sequence[float] = (50.0, 99.0, 99.9)) -> Figure:
    """Pooled p50/p99/p99.9 against the offered rate, per mesh; dots are single trials."""
    run = an.run
    if run.trials.empty:
        return _empty("no trials")
    colours = mesh_colours(run.meshes)
    fig, axes = _figure(len(percentiles))
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
    _legend(axes)
    fig.suptitle("Latency against load (lines pooled, dots single trials)", fontsize=FONT_PT + 3)
    return fig


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


def _verdict_points(
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


def _threshold_band(ax: Axes, rows: pd.DataFrame, x: NDArray[np.float64]) -> None:
    """Shade ±threshold (the practical band) behind the points."""
    thr = rows["threshold_ms"].to_numpy(dtype=float) if "threshold_ms" in rows else None
    if thr is None or not np.isfinite(thr).any():
        return
    for xi, t in zip(x, thr, strict=True):
        if np.isfinite(t):
            ax.fill_between(
                [xi - 0.4, xi + 0.4], -t, t, color="#cccccc", alpha=0.35, lw=0, zorder=0
            )


def overhead_ci(an: Analysis) -> Figure:
    """Overhead against none per percentile with its interval and a marker per verdict."""
    run = an.run
    o = an.overhead
    if o.empty:
        return _empty(
            "no overhead: the run has no 'none' baseline"
            if not run.has_baseline
            else "no overhead computed"
        )
    colours = mesh_colours(run.meshes)
    cells = run.cells
    fig, axes = _figure(len(cells))
    meshes = [m for m in run.meshes if m != BASELINE]
    width = 0.8 / max(len(meshes), 1)
    labels = [hist.label(q) for q in an.percentiles if q < 100]
    for ax, cell in zip(axes, cells, strict=False):
        g = o[cell.matches(o)]
        base = g[g["mesh"] == meshes[0]].set_index("label").reindex(labels) if meshes else g
        _threshold_band(ax, base, np.arange(len(labels), dtype=float))
        for i, mesh in enumerate(meshes):
            m = g[g["mesh"] == mesh].set_index("label").reindex(labels)
            x = np.arange(len(labels)) + (i - (len(meshes) - 1) / 2) * width
            _verdict_points(ax, x, m, colours[mesh], mesh, "overhead_ms")
        ax.axhline(0, color="black", lw=1)
        ax.set_xticks(np.arange(len(labels)), labels)
        ax.set_ylabel("overhead vs none (ms)", fontsize=FONT_PT)
        ax.set_title(cell.title(run.swept), fontsize=FONT_PT + 1)
    _legend(axes, fontsize=FONT_PT - 3)
    conf = round(an.confidence * 100)
    fig.suptitle(
        f"Sidecar overhead, within-repeat contrasts with {conf}% interval "
        "(grey band: practical threshold)",
        fontsize=FONT_PT + 2,
    )
    return fig


def repeat_blocks(an: Analysis) -> Figure:
    """One line per repeat from its none trial to the same repeat's mesh trial, per mesh
    and primary percentile: why the verdict is what it is."""
    run = an.run
    meshes = [m for m in run.meshes if m != BASELINE]
    if not run.has_baseline or not meshes:
        return _empty("no baseline to pair repeats with")
    matrices = {cell: cell_matrix(run, cell, an.primary) for cell in run.cells}
    panels = [(cell, j, q) for cell in run.cells for j, q in enumerate(an.primary)]
    fig, axes = _figure(len(panels))
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


def cdf(an: Analysis) -> Figure:
    """Cumulative distribution of pooled latency per mesh (log time axis)."""
    run = an.run
    if run.trials.empty:
        return _empty("no trials")
    colours = mesh_colours(run.meshes)
    cells = run.cells
    fig, axes = _figure(len(cells))
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
    _legend(axes, loc="lower right")
    fig.suptitle("Latency distribution (pooled)", fontsize=FONT_PT + 3)
    return fig


def p99_over_time(an: Analysis, column: str = "p99_ms") -> Figure:
    """p99 of every ~1 s interval of every trial: stability, warm-up dashed."""
    run = an.run
    iv = run.intervals
    iv = iv[iv["tag"] == "latency"]
    if iv.empty:
        return _empty("no interval histograms")
    colours = mesh_colours(run.meshes)
    cells = run.cells
    fig, axes = _figure(len(cells))
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
    _legend(axes)
    fig.suptitle("Tail latency over time, one line per trial", fontsize=FONT_PT + 3)
    return fig


def resource_cost(an: Analysis) -> Figure:
    """Mean CPU (cores) and memory (MiB) per cell and mesh, stacked by component."""
    run = an.run
    c = run.cost[run.cost["included"].astype(bool)]
    if c.empty or c[["cpu_cores", "rss_mib"]].isna().all().all():
        return _empty("no resource measurements")
    colours = mesh_colours(run.meshes)
    cells = run.cells
    fig, axes = _figure(2, bottom_in=0.75 if len(cells) <= 4 else 1.3)
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


HATCHES = {"sidecar": "", "service": "//", "generator": ".."}


def _patch(component: str) -> Patch:
    return Patch(facecolor="#bbbbbb", edgecolor="white", hatch=HATCHES[component], label=component)


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
    fig, axes = _figure(len(panels))
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
    _legend(axes, fontsize=FONT_PT - 2)
    fig.suptitle(f"Sidecar overhead against {DIM_LABELS[dim]}", fontsize=FONT_PT + 3)
    return fig


DIM_LABELS = {d.name: d.axis for d in DIMENSIONS if d.axis}


PLOTS: dict[str, Callable[[Analysis], Figure | None]] = {
    "percentile_spectrum": percentile_spectrum,
    "latency_vs_rate": latency_vs_rate,
    "overhead_ci": overhead_ci,
    "repeat_blocks": repeat_blocks,
    "cdf": cdf,
    "p99_over_time": p99_over_time,
    "resource_cost": resource_cost,
    "overhead_vs_depth": lambda an: overhead_vs(an, "depth"),
    "overhead_vs_payload": lambda an: overhead_vs(an, "payload_bytes"),
    "overhead_vs_connections": lambda an: overhead_vs(an, "connections"),
}
"""Every report plot by file name, in report order."""


def comparison_spectrum(cmp: Comparison) -> Figure:
    """Both runs' percentile spectra: solid = A, dashed = B."""
    run_a, run_b = cmp.a.run, cmp.b.run
    meshes = [m for m in run_a.meshes if m in run_b.meshes]
    colours = mesh_colours(meshes)
    cells = sorted(set(run_a.cells) & set(run_b.cells))
    fig, axes = _figure(len(cells))
    name_a = str(cmp.diff.attrs.get("a", "A"))
    name_b = str(cmp.diff.attrs.get("b", "B"))
    for ax, cell in zip(axes, cells, strict=False):
        top = 1.0
        for run, style, name in ((run_a, "-", name_a), (run_b, "--", name_b)):
            for mesh in meshes:
                pooled = run.pooled(mesh, cell)
                n = pooled.get_total_count()
                if n == 0:
                    continue
                q = hist.nines_grid(n)
                vals = (
                    hist.percentiles_us(hist.counts(pooled), hist.layout(pooled), q.tolist()) / 1000
                )
                x = _nines(q)
                top = max(top, float(x[-1]))
                ax.plot(x, vals, style, color=colours[mesh], lw=2, label=f"{mesh} ({name})")
        ticks = [t for t in NINES_TICKS if t <= top + 1e-9]
        ax.set_xticks(ticks, [NINES_TICKS[t] for t in ticks])
        ax.set_xlabel("percentile", fontsize=FONT_PT)
        ax.set_ylabel("latency (ms)", fontsize=FONT_PT)
        ax.set_title(cell.title(run_a.swept), fontsize=FONT_PT + 1)
    _legend(axes, fontsize=FONT_PT - 2)
    fig.suptitle("Latency by percentile: A solid, B dashed", fontsize=FONT_PT + 3)
    return fig


def comparison_diff(cmp: Comparison) -> Figure:
    """B - A per mesh and percentile (overheads; none's latency) with its interval."""
    d = cmp.diff
    if d.empty:
        return _empty("no cells in common")
    run = cmp.a.run
    meshes = [m for m in run.meshes if m in set(d["mesh"])]
    colours = mesh_colours(meshes)
    cells = sorted({cell_of(r) for r in d[list(DIMS)].to_dict("records")})
    fig, axes = _figure(len(cells))
    labels = [lbl for lbl in dict.fromkeys(d["label"]) if lbl != "max"]
    width = 0.8 / max(len(meshes), 1)
    for ax, cell in zip(axes, cells, strict=False):
        g = d[cell.matches(d)]
        for i, mesh in enumerate(meshes):
            m = g[g["mesh"] == mesh].set_index("label").reindex(labels)
            x = np.arange(len(labels)) + (i - (len(meshes) - 1) / 2) * width
            _verdict_points(ax, x, m, colours[mesh], mesh, "diff_ms")
        ax.axhline(0, color="black", lw=1)
        ax.set_xticks(np.arange(len(labels)), labels)
        ax.set_ylabel("B - A (ms)", fontsize=FONT_PT)
        ax.set_title(cell.title(run.swept), fontsize=FONT_PT + 1)
    _legend(axes, fontsize=FONT_PT - 3)
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


def save(fig: Figure, out_dir: Path, name: str) -> list[Path]:
    """Write ``<name>.png`` and ``<name>.svg`` into ``out_dir``; return both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.png", out_dir / f"{name}.svg"]
    fig.savefig(paths[0], dpi=PNG_DPI)
    fig.savefig(paths[1])
    return paths
