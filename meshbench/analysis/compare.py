"""Compare two runs: the same tables side by side, and B - A per cell with intervals.

What is compared is what each run measured best: for a mesh, its *overhead* against the
run's own ``none`` (a difference of differences, so host drift between the runs cancels
as it did within each run); for ``none`` itself, its latency (per-trial percentiles,
unpaired: nothing pairs two runs' trials). Verdicts use the same words and threshold
as a single run's (run B's ``analysis`` settings), Holm-adjusted over the primary rows.

Comparing runs only means something when they measured the same thing, so runs whose
key metadata differ (platform, topology, rates) are refused unless forced, in the
spirit of pyperf's checked metadata. Other differences (host, versions, load shape)
are listed but allowed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from meshbench.analysis import blocks
from meshbench.analysis import histograms as hist
from meshbench.analysis.overhead import cell_matrix
from meshbench.analysis.stored_run import Run, load_run
from meshbench.analysis.summary import Analysis, analyse
from meshbench.analysis.verdicts import (
    DESCRIPTIVE,
    TOO_FEW,
    apply_verdicts,
    screen,
    tail_check,
    threshold_ms,
)
from meshbench.config.dimensions import BASELINE, DIMS, Cell, cell_of
from meshbench.config.scenario import AnalysisSpec
from meshbench.errors import ResultsError

DIFF_COLUMNS = [
    "mesh",
    *DIMS,
    "percentile",
    "label",
    "quantity",
    "a_ms",
    "b_ms",
    "diff_ms",
    "diff_pct",
    "ci_low_ms",
    "ci_high_ms",
    "p_value",
    "p_holm",
    "n_a",
    "n_b",
    "threshold_ms",
    "mde_ms",
    "repeats_needed",
    "block_unit",
    "primary",
    "verdict",
    "significant",
    "why",
]
OVERHEAD = "overhead vs none"
LEVEL = "latency"


@dataclass
class Comparison:
    """Two analysed runs and how B differs from A."""

    a: Analysis
    b: Analysis
    cells: pd.DataFrame
    """Pooled percentiles of both runs, long form, with a ``run`` column (run ids)."""
    overhead: pd.DataFrame
    """Both runs' overheads against ``none``, long form, with a ``run`` column."""
    diff: pd.DataFrame
    """Per mesh x cell x percentile: B - A (ms, %) of the overhead (of ``none``'s latency
    for ``none``), interval, verdict."""
    mismatches: list[str] = field(default_factory=list)
    """Key metadata that differ (only non-empty when forced)."""
    differences: list[str] = field(default_factory=list)
    """Other metadata that differ (host, versions, load shape): worth knowing."""
    disagreements: list[str] = field(default_factory=list)
    """Overheads on which the runs disagree beyond both runs' own intervals."""


def _get(d: Mapping[str, Any], *path: str) -> Any:
    cur: Any = d
    for p in path:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(p)
    return cur


_KEY = {
    "platform": ("platform", "name"),
    "topology": ("scenario", "topology"),
    "rates": ("scenario", "load", "rates_rps"),
    "sweep": ("scenario", "sweep"),
}
_OTHER = {
    "client sidecar": ("scenario", "client_sidecar"),
    "connections": ("scenario", "load", "connections"),
    "schedule": ("scenario", "load", "schedule"),
    "duration": ("scenario", "load", "duration_s"),
    "repeats": ("scenario", "repeats"),
    "deployments": ("scenario", "deployments"),
    "cpu model": ("host", "cpu_model"),
    "cpu count": ("host", "cpu_count"),
    "kernel": ("host", "kernel"),
    "pinning": ("pinning",),
    "envoy version": ("versions", "envoy"),
    "meshbench version": ("versions", "meshbench"),
}


def metadata_differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """``(key mismatches, other differences)`` between two ``run.json`` mappings."""

    def diff(fields: Mapping[str, tuple[str, ...]]) -> list[str]:
        out = []
        for name, path in fields.items():
            va, vb = _get(a, *path), _get(b, *path)
            if name == "rates" and va is not None and vb is not None:
                va, vb = sorted(float(x) for x in va), sorted(float(x) for x in vb)
            if va != vb:
                out.append(f"{name}: {_short(va)} vs {_short(vb)}")
        return out

    return diff(_KEY), diff(_OTHER)


def _short(v: Any, limit: int = 60) -> str:
    s = repr(v)
    return s if len(s) <= limit else s[: limit - 3] + "..."


def run_labels(a: Run, b: Run) -> tuple[str, str]:
    """Names for the two runs in tables and legends (their ids, prefixed when equal)."""
    if a.run_id != b.run_id:
        return a.run_id, b.run_id
    return f"A:{a.run_id}", f"B:{b.run_id}"


def compare_runs(
    a: Run | str | Path,
    b: Run | str | Path,
    force: bool = False,
    spec: AnalysisSpec | None = None,
) -> Comparison:
    """Compare run ``b`` against run ``a`` (both paths or loaded runs).

    ``spec`` replaces both runs' ``analysis`` settings (threshold, primary percentiles,
    confidence); by default each run is analysed with its own and the verdicts use B's.
    Raises :class:`ResultsError` when platform, topology or rates differ, unless
    ``force``.
    """
    run_a = a if isinstance(a, Run) else load_run(a)
    run_b = b if isinstance(b, Run) else load_run(b)
    key, other = metadata_differences(run_a.meta, run_b.meta)
    if key and not force:
        raise ResultsError(
            f"runs {run_a.run_id} and {run_b.run_id} measured different things: " + "; ".join(key),
            fix="compare runs of the same scenario, or pass --force (force=True) to compare anyway",
        )
    an_a = analyse(run_a, spec=spec)
    an_b = analyse(run_b, spec=spec)
    records: list[dict[str, Any]] = []
    for cell in sorted(set(run_a.cells) & set(run_b.cells)):
        records += _level_rows(an_a, an_b, cell)
        records += _overhead_rows(an_a, an_b, cell)
    if not records:
        raise ResultsError(
            f"nothing to compare between {run_a.run_id} and {run_b.run_id}: "
            + "; ".join(_why_nothing(run_a, run_b)),
            fix="compare two runs that each measured the 'none' baseline at the same rates "
            "(meshes: [none, ...])",
        )
    diff = pd.DataFrame.from_records(
        records, columns=[c for c in DIFF_COLUMNS if c not in ("p_holm", "significant")]
    )
    diff = apply_verdicts(
        diff, 1 - an_b.confidence, diff["primary"].astype(bool), estimate="diff_ms"
    )[DIFF_COLUMNS]
    few = diff["verdict"].eq(TOO_FEW) & diff["why"].eq("")
    diff.loc[few, "why"] = [
        f"{n_a} and {n_b} {unit}(s) in A and B; an interval needs >= 2 in each"
        for n_a, n_b, unit in zip(
            diff.loc[few, "n_a"], diff.loc[few, "n_b"], diff.loc[few, "block_unit"], strict=True
        )
    ]
    diff.attrs.update({"a": run_a.run_id, "b": run_b.run_id, "confidence": an_b.confidence})
    name_a, name_b = run_labels(run_a, run_b)
    cells = pd.concat(
        [an_a.cells.assign(run=name_a), an_b.cells.assign(run=name_b)], ignore_index=True
    )
    over = pd.concat(
        [an_a.overhead.assign(run=name_a), an_b.overhead.assign(run=name_b)], ignore_index=True
    )
    return Comparison(an_a, an_b, cells, over, diff, key, other, _disagreements(an_b, diff))


def _why_nothing(run_a: Run, run_b: Run) -> list[str]:
    """Why two runs gave no row of B - A: a run without a (valid) baseline, no shared cell."""
    why = []
    for tag, run in (("A", run_a), ("B", run_b)):
        if not run.has_baseline:
            why.append(
                f"run {tag} has no {BASELINE!r} arm (meshes {', '.join(run.meshes) or '-'}), "
                "so it measured no overhead and no baseline latency"
            )
        elif not (run.trials["included"] & (run.trials["mesh"] == BASELINE)).any():
            why.append(f"run {tag} has no valid {BASELINE!r} trial")
    if not set(run_a.cells) & set(run_b.cells):
        why.append("the runs share no sweep cell (rate, connections, payload, depth, ...)")
    return why or ["no mesh has a valid overhead at a cell both runs measured"]


def _disagreements(an_b: Analysis, diff: pd.DataFrame) -> list[str]:
    """One line per overhead the two runs measured differently (B - A significant):
    each run's interval covered only its own trials, repeats and deployments, so the
    difference is run-to-run variation or a real change between the runs."""
    bad = diff[(diff["quantity"] == OVERHEAD) & diff["verdict"].isin(["slower", "faster"])]
    out = []
    for r in bad.to_dict("records"):
        where = cell_of(r).title(an_b.run.swept)
        out.append(
            f"runs disagree on {r['mesh']} {r['label']} at {where}: "
            f"overhead {r['a_ms']:+.3f} ms in A vs {r['b_ms']:+.3f} ms in B, difference "
            f"{r['diff_ms']:+.3f} ms [{r['ci_low_ms']:+.3f}, {r['ci_high_ms']:+.3f}], beyond "
            "both runs' own intervals: run-to-run variation (host state, deployment) or a "
            "real change; neither run's interval covers it"
        )
    return out


def _row(
    cell: Cell,
    mesh: str,
    q: float,
    quantity: str,
    c: blocks.Contrast,
    a_ms: float,
    b_ms: float,
    n_a: int,
    n_b: int,
    thr: float,
    primary: bool,
    why: str,
    needed: int | None,
    unit: str,
) -> dict[str, Any]:
    verdict, why = screen(bool(n_a and n_b), q, primary, why)
    return {
        "mesh": mesh,
        **cell.as_dict(),
        "percentile": q,
        "label": hist.label(q),
        "quantity": quantity,
        "a_ms": a_ms,
        "b_ms": b_ms,
        "diff_ms": c.estimate / 1000,
        "diff_pct": (b_ms - a_ms) / abs(a_ms) * 100 if a_ms else math.nan,
        "ci_low_ms": c.low / 1000,
        "ci_high_ms": c.high / 1000,
        "p_value": c.p_value,
        "n_a": n_a,
        "n_b": n_b,
        "threshold_ms": thr,
        "mde_ms": c.mde() / 1000,
        "repeats_needed": needed if needed is not None else math.nan,
        "block_unit": unit,
        "primary": primary,
        "verdict": verdict,
        "why": why,
    }


def _level_rows(an_a: Analysis, an_b: Analysis, cell: Cell) -> list[dict[str, Any]]:
    """``none``'s own latency, B - A: Welch over the two runs' per-trial percentiles."""
    if BASELINE not in an_a.run.meshes or BASELINE not in an_b.run.meshes:
        return []
    pcts = an_b.percentiles
    ma, mb = (cell_matrix(an.run, cell, pcts) for an in (an_a, an_b))
    ia, ib = ma.arms.index(BASELINE), mb.arms.index(BASELINE)
    out = []
    for j, q in enumerate(pcts):
        ya, yb = ma.values_us[ia, :, j], mb.values_us[ib, :, j]
        c = blocks.contrast(_rows(yb, ya), 0, 1, confidence=an_b.confidence, interleaved=False)
        a_ms = float(np.nanmean(ya)) / 1000 if np.isfinite(ya).any() else math.nan
        b_ms = float(np.nanmean(yb)) / 1000 if np.isfinite(yb).any() else math.nan
        counts = np.concatenate([ma.counts[ia], mb.counts[ib]])
        why = tail_check(counts, q, cell.rate_rps)
        thr = threshold_ms(an_b.spec, a_ms)
        needed = blocks.repeats_for_difference(_sd(ya), _sd(yb), thr * 1000, an_b.confidence)
        out.append(
            _row(
                cell,
                BASELINE,
                q,
                LEVEL,
                c,
                a_ms,
                b_ms,
                int(np.isfinite(ya).sum()),
                int(np.isfinite(yb).sum()),
                thr,
                q in an_b.primary,
                why,
                needed,
                "repeat",
            )
        )
    return out


def _sd(x: NDArray[np.float64]) -> float:
    """Sample sd of the finite values of ``x`` (NaN with fewer than two)."""
    x = x[np.isfinite(x)]
    return float(x.std(ddof=1)) if x.size >= 2 else math.nan


def _rows(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    """Two vectors of different lengths as the rows of one NaN-padded matrix."""
    n = max(x.size, y.size)
    out = np.full((2, n), np.nan)
    out[0, : x.size] = x
    out[1, : y.size] = y
    return out


def _overhead_rows(an_a: Analysis, an_b: Analysis, cell: Cell) -> list[dict[str, Any]]:
    """Each mesh's overhead against its own run's ``none``, B - A."""
    oa, ob = (an.overhead[cell.matches(an.overhead)] for an in (an_a, an_b))
    out = []
    for rb in ob.to_dict("records"):
        ra_rows = oa[(oa["mesh"] == rb["mesh"]) & np.isclose(oa["percentile"], rb["percentile"])]
        if ra_rows.empty:
            continue
        ra = ra_rows.iloc[0].to_dict()
        ca, cb = _as_contrast(ra), _as_contrast(rb)
        c = blocks.difference(ca, cb)
        why = next((r["why"] for r in (ra, rb) if r["verdict"] == DESCRIPTIVE and r["primary"]), "")
        per_repeat = (
            blocks.df_per_repeat(ca.method, len(an_a.run.meshes)),
            blocks.df_per_repeat(cb.method, len(an_b.run.meshes)),
        )
        needed = blocks.repeats_for_difference(
            ca.sd_block, cb.sd_block, float(rb["threshold_ms"]) * 1000, cb.confidence, per_repeat
        )
        out.append(
            _row(
                cell,
                str(rb["mesh"]),
                float(rb["percentile"]),
                OVERHEAD,
                c,
                float(ra["overhead_ms"]),
                float(rb["overhead_ms"]),
                int(ra["n_blocks"]),
                int(rb["n_blocks"]),
                float(rb["threshold_ms"]),
                bool(rb["primary"]),
                str(why),
                needed,
                str(rb["block_unit"]),
            )
        )
    return out


def _as_contrast(r: Mapping[Any, Any]) -> blocks.Contrast:
    """One overhead row's inferential figures back in µs."""
    return blocks.Contrast(
        r["overhead_ms"] * 1000,
        r["se_ms"] * 1000,
        r["df"],
        r["ci_low_ms"] * 1000,
        r["ci_high_ms"] * 1000,
        r["p_value"],
        int(r["n_blocks"]),
        str(r["method"]),
        float(r["confidence"]),
    )
