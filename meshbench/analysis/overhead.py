"""Overhead of each mesh against the baseline, per percentile, with a verdict.

Two kinds of figure, kept apart:

- **Descriptive**: ``baseline_ms``/``mesh_ms`` are percentiles of the histograms pooled
  over a cell's valid trials, and ``pooled_diff_ms`` their difference. They are what
  the latency tables show; no interval is about them.
- **Inferential**: ``overhead_ms`` is the mean within-repeat contrast of per-trial
  percentiles (:mod:`meshbench.analysis.blocks`), with its interval, p-value, minimum
  detectable effect and verdict; ``overhead_pct`` and its interval come from the same
  contrast of log percentiles (a ratio, so a host that is 20 % slower in one repeat
  scales both arms alike).

Verdict words and their rules: :mod:`meshbench.analysis.verdicts`.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np
import pandas as pd
from hdrh.histogram import HdrHistogram
from numpy.typing import NDArray

from meshbench.analysis import blocks
from meshbench.analysis import histograms as hist
from meshbench.analysis.stored_run import Run
from meshbench.analysis.verdicts import (
    TOO_FEW,
    analysis_spec,
    apply_verdicts,
    primary_percentiles,
    screen,
    tail_check,
    threshold_ms,
)
from meshbench.config.dimensions import AA_CONTROL, BASELINE, DIMS, Cell
from meshbench.config.scenario import AnalysisSpec

SIGN_FLIP_FROM = 8
"""From this many blocks, an exact (or sampled) sign-flip test of the contrasts is
computed beside the t-based p-value as a cross-check that needs no normality."""
SIGN_FLIP_EXACT_UP_TO = 16
SIGN_FLIP_DRAWS = 20_000


@dataclass(frozen=True)
class CellMatrix:
    """Per-trial percentiles of one cell laid out as arms x blocks (repeats).

    Where a platform ran one mesh at a time with the baseline beside each (trials.csv
    ``window``), a block is one repeat inside one mesh's window: a mesh's trials fill only
    its own window's blocks, so its contrast with the baseline pairs it with baseline
    trials from that window alone, and ``none-aa`` is paired with ``none`` in every one.
    """

    arms: list[str]
    repeats: list[int]
    """The repeat of each block (a repeat appears once per window when there are windows)."""
    values_us: NDArray[np.float64]
    """``(arms, repeats, percentiles)``; NaN where the trial is missing or not included."""
    counts: NDArray[np.float64]
    """``(arms, repeats)``: samples in each included trial's histogram (NaN: none)."""
    orders: list[list[int]]
    """Per repeat: execution order numbers of every trial of the block (valid or not)."""
    deployments: list[int]
    """Per block: which fresh deployment of every arm it ran against (1-based)."""
    windows: list[str] | None = None
    """Per block: the mesh install window it ran in ('' where arms ran side by side)."""

    @property
    def interleaved(self) -> bool:
        return blocks.interleaved(self.orders)

    @property
    def unit(self) -> str:
        """What a block of the analysis is: a ``repeat``, or a ``deployment`` when the
        run deployed every arm afresh several times (its repeats are then averaged)."""
        return "deployment" if len(set(self.deployments)) > 1 else "repeat"

    def blocks(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        """``values`` (arms x repeats) as arms x blocks: with several deployments, the
        mean of each arm's valid repeats within a deployment, so the contrasts' spread
        includes deployment-to-deployment variation (a random effect, not noise to pool
        away); otherwise unchanged."""
        if self.unit == "repeat":
            return values
        windows = self.windows or ["" for _ in self.deployments]
        keys = list(zip(windows, self.deployments, strict=True))
        groups = sorted(set(keys))
        out = np.full((values.shape[0], len(groups)), np.nan)
        for g, group in enumerate(groups):
            cols = values[:, [k == group for k in keys]]
            n = np.isfinite(cols).sum(axis=1)
            total = np.where(np.isfinite(cols), cols, 0.0).sum(axis=1)
            out[:, g] = np.where(n > 0, total / np.maximum(n, 1), np.nan)
        return out


def cell_matrix(
    run: Run, cell: Cell, percentiles: Sequence[float], tag: str = "latency"
) -> CellMatrix:
    """Every arm's per-trial ``tag`` percentiles in ``cell``, one column per block: a
    repeat, or a repeat inside one mesh's install window (:class:`CellMatrix`)."""
    t = run.trials[cell.matches(run.trials)]
    arms = run.meshes
    blocks_ = sorted(
        {(str(w), int(r)) for w, r in zip(t["window"], t["repeat"], strict=True) if not pd.isna(r)}
    )
    values = np.full((len(arms), len(blocks_), len(percentiles)), np.nan)
    counts = np.full((len(arms), len(blocks_)), np.nan)
    col = {b: j for j, b in enumerate(blocks_)}
    row = {m: i for i, m in enumerate(arms)}
    orders: list[list[int]] = [[] for _ in blocks_]
    deployments = [1 for _ in blocks_]
    for rec in t.to_dict("records"):
        if pd.isna(rec["repeat"]) or rec["mesh"] not in row:
            continue
        j = col[(str(rec["window"]), int(rec["repeat"]))]
        deployments[j] = int(rec["deployment"])
        if not pd.isna(rec["order"]):
            orders[j].append(int(rec["order"]))
        h = run.histograms.get(str(rec["trial_id"]), {}).get(tag)
        if not rec["included"] or h is None:
            continue
        i = row[str(rec["mesh"])]
        values[i, j] = hist.percentiles_us(hist.counts(h), hist.layout(h), percentiles)
        counts[i, j] = h.get_total_count()
    return CellMatrix(
        arms, [r for _, r in blocks_], values, counts, orders, deployments, [w for w, _ in blocks_]
    )


def sign_flip_p(d: NDArray[np.float64], rng: np.random.Generator) -> float:
    """Two-sided sign-flip (permutation) p-value of the mean of contrasts ``d``: exact up
    to :data:`SIGN_FLIP_EXACT_UP_TO` blocks, else from :data:`SIGN_FLIP_DRAWS` draws."""
    d = d[np.isfinite(d)]
    n = d.size
    if n < 2:
        return math.nan
    if n <= SIGN_FLIP_EXACT_UP_TO:
        signs = np.array(list(product((1.0, -1.0), repeat=n)))
    else:
        signs = rng.choice((1.0, -1.0), size=(SIGN_FLIP_DRAWS, n))
    observed = abs(d.mean())
    flipped = np.abs(signs @ d) / n
    return float(np.mean(flipped >= observed - 1e-12))


def cell_seed(seed: int, *parts: object) -> np.random.Generator:
    """A generator for one cell: reproducible and independent of which other cells exist."""
    key = zlib.crc32("|".join(str(p) for p in parts).encode())
    return np.random.default_rng([seed, key])


def _contrast_record(
    c: blocks.Contrast, spec: AnalysisSpec, n_arms: int, thr_ms: float
) -> dict[str, Any]:
    """The interval figures of a contrast measured in µs, in ms."""
    needed = blocks.repeats_to_detect(c, thr_ms * 1000, n_arms)
    return {
        "overhead_ms": c.estimate / 1000,
        "ci_low_ms": c.low / 1000,
        "ci_high_ms": c.high / 1000,
        "se_ms": c.se / 1000,
        "df": c.df,
        "p_value": c.p_value,
        "method": c.method,
        "n_blocks": c.n_blocks,
        "mde_ms": c.mde() / 1000,
        "threshold_ms": thr_ms,
        "repeats_needed": needed if needed is not None else np.nan,
        "confidence": spec.confidence,
    }


def overhead(
    run: Run,
    *,
    baseline: str = BASELINE,
    percentiles: Sequence[float] = hist.PERCENTILES,
    tag: str = "latency",
    spec: AnalysisSpec | None = None,
    primary: Sequence[float] | None = None,
    seed: int | None = None,
) -> pd.DataFrame:
    """Overhead of every arm against ``baseline`` in every cell and at every percentile.

    Long form, one row per mesh x cell (:data:`DIMS`) x percentile; the columns are
    :data:`OVERHEAD_COLUMNS` (see the module docstring for which are descriptive).
    ``spec`` defaults to the run's ``analysis`` settings and ``primary`` to
    :func:`primary_percentiles`. The A/A control (``none-aa``) is compared like a mesh
    but outside the Holm family: its row is a check of the run, not a finding.
    Empty (same columns) when the run has no baseline.
    """
    spec = spec or analysis_spec(run)
    slo = run.slo
    primary = (
        list(primary)
        if primary is not None
        else primary_percentiles(spec, slo.percentile if slo else None)
    )
    seed = run.seed if seed is None else seed
    records: list[dict[str, Any]] = []
    if baseline in run.meshes:
        for cell in run.cells:
            records += _cell_records(run, cell, baseline, percentiles, primary, spec, tag, seed)
    df = pd.DataFrame.from_records(
        records, columns=[c for c in OVERHEAD_COLUMNS if c not in ("p_holm", "significant")]
    )
    df = apply_verdicts(df, 1 - spec.confidence, df["mesh"] != AA_CONTROL)
    df = df[OVERHEAD_COLUMNS]
    df.attrs.update(
        {
            "baseline": baseline,
            "seed": seed,
            "confidence": spec.confidence,
            "unit": "repeat",
            "primary": primary,
            "min_effect_ms": spec.min_effect_ms,
            "min_effect_pct": spec.min_effect_pct,
        }
    )
    return df


def _cell_records(
    run: Run,
    cell: Cell,
    baseline: str,
    percentiles: Sequence[float],
    primary: Sequence[float],
    spec: AnalysisSpec,
    tag: str,
    seed: int,
) -> list[dict[str, Any]]:
    m = cell_matrix(run, cell, percentiles, tag)
    b = m.arms.index(baseline)
    inter = m.interleaved
    pooled = {arm: run.pooled(arm, cell, tag) for arm in m.arms}
    windowed = set(m.windows or []) - {""}

    def base_pooled(arm: str) -> HdrHistogram:
        """The baseline beside ``arm``: in its own install window where there are windows."""
        if arm not in windowed:
            return pooled[baseline]
        t = run.trials
        sel = cell.matches(t) & t["included"] & (t["mesh"] == baseline) & (t["window"] == arm)
        return hist.pool([run.histograms[str(x)][tag] for x in t.loc[sel, "trial_id"]])

    out = []
    for j, q in enumerate(percentiles):
        per_trial = m.values_us[:, :, j]
        y = m.blocks(per_trial)
        fit = blocks.two_way(y) if inter else None
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.log(y)
        log_fit = blocks.two_way(logs) if inter else None
        for i, arm in enumerate(m.arms):
            if i == b:
                continue
            base_pool = hist.percentiles_ms(base_pooled(arm), [q])[q]
            n_mesh = int(np.isfinite(per_trial[i]).sum())
            n_base = int(np.isfinite(per_trial[b]).sum())
            if n_mesh == 0 and n_base == 0:
                continue
            mesh_pool = hist.percentiles_ms(pooled[arm], [q])[q]
            c = blocks.contrast(y, i, b, confidence=spec.confidence, interleaved=inter, fit=fit)
            cl = blocks.contrast(
                logs, i, b, confidence=spec.confidence, interleaved=inter, fit=log_fit
            )
            base_mean = float(np.nanmean(per_trial[b])) / 1000 if n_base else math.nan
            thr = threshold_ms(spec, base_mean)
            used = np.isfinite(y[i]) & np.isfinite(y[b]) if inter else np.ones(y.shape[1], bool)
            trials_used = (
                np.isfinite(per_trial[i]) & np.isfinite(per_trial[b])
                if inter
                else np.ones(per_trial.shape[1], bool)
            )
            verdict, why = screen(
                n_mesh > 0 and n_base > 0,
                q,
                q in primary,
                tail_check(m.counts[[i, b]][:, trials_used], q, cell.rate_rps),
            )
            if verdict == "" and c.n_blocks < 2 and inter:
                verdict, why = TOO_FEW, f"{c.n_blocks} {m.unit}(s) with both arms valid"
            d = y[i, used] - y[b, used]
            p_flip = (
                sign_flip_p(d, cell_seed(seed, arm, *cell.as_dict().values(), tag, q))
                if inter and c.n_blocks >= SIGN_FLIP_FROM
                else math.nan
            )
            out.append(
                {
                    "mesh": arm,
                    **cell.as_dict(),
                    "tag": tag,
                    "percentile": q,
                    "label": hist.label(q),
                    "baseline_ms": base_pool,
                    "mesh_ms": mesh_pool,
                    "pooled_diff_ms": mesh_pool - base_pool,
                    **_contrast_record(c, spec, len(m.arms), thr),
                    "overhead_pct": math.expm1(cl.estimate) * 100,
                    "ci_low_pct": math.expm1(cl.low) * 100,
                    "ci_high_pct": math.expm1(cl.high) * 100,
                    "p_signflip": p_flip,
                    "blocks_slower": int((d > 0).sum()),
                    "n_mesh": n_mesh,
                    "n_baseline": n_base,
                    "primary": q in primary,
                    "interleaved": inter,
                    "block_unit": m.unit,
                    "verdict": verdict,
                    "why": why,
                }
            )
    return out


OVERHEAD_COLUMNS = [
    "mesh",
    *DIMS,
    "tag",
    "percentile",
    "label",
    "baseline_ms",
    "mesh_ms",
    "pooled_diff_ms",
    "overhead_ms",
    "overhead_pct",
    "ci_low_ms",
    "ci_high_ms",
    "ci_low_pct",
    "ci_high_pct",
    "se_ms",
    "df",
    "p_value",
    "p_holm",
    "p_signflip",
    "method",
    "n_blocks",
    "blocks_slower",
    "n_mesh",
    "n_baseline",
    "mde_ms",
    "threshold_ms",
    "repeats_needed",
    "primary",
    "interleaved",
    "block_unit",
    "verdict",
    "significant",
    "why",
    "confidence",
]
