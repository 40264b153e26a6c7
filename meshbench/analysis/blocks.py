"""Inference on the design that ran: interleaved repeats are blocks.

The plan runs each repeat as a block of adjacent trials, one per arm (``none``, the
meshes, ``none-aa``), in a rotated order. Whatever drifts over minutes (the host's
state, caches, neighbours) is shared by the arms of a block, so it cancels in the
within-block contrast ``d_r = P(mesh, r) - P(none, r)`` of per-trial percentiles.
Resampling each arm's trials independently, as meshbench did before, counted that
drift as noise twice: on a real default run (3 repeats) drift had sd 0.37 ms at p50
against 0.29 ms of per-trial noise, and the unpaired interval was 1.6x too wide.

Two estimates of the contrast's noise:

- **two-way**: the additive model ``P(a, r) = arm_a + block_r + e`` fitted to the
  complete blocks; the residual variance is pooled over every arm, so the contrast's
  standard error has ``(M - 1)(R - 1)`` degrees of freedom instead of ``R - 1``.
  Used when there are at least three arms and three complete blocks, the arms'
  residual spreads are comparable (Bartlett's test) and this contrast's own spread is
  not larger than the pooled model says (one-sided F test), both at
  :data:`HOMOGENEITY_ALPHA`: pooling over quieter arms must never understate a noisy one.
- **paired**: the t interval of the ``d_r`` themselves (``R - 1`` degrees of freedom).

A run whose arms did not run interleaved (mesh confounded with time) has no blocks;
its arms are compared **unpaired** (Welch), and the report warns.

Everything here works on small arrays of per-trial values (arms x blocks), so the
calibration tests can simulate thousands of runs in a second.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats

TWO_WAY = "two-way"
PAIRED = "paired"
UNPAIRED = "unpaired"

HOMOGENEITY_ALPHA = 0.25
"""Level of the checks that decide whether pooling is safe. Deliberately high: a pretest
that misses a noisier arm lets its contrast borrow the quieter arms' variance. Simulated
(one arm 3x noisier than three others, 6 repeats, 2,000 runs): at 0.10 that arm's false
positive rate was 9 %, at 0.25 5.4 %; with equal arms 0.25 still keeps most of pooling's
power (74 % vs 76 % for +0.5 ms at p50, paired t alone 67 %)."""

POWER = 0.80
"""Power at which the minimum detectable effect is stated."""

MAX_REPEATS_SUGGESTED = 1000


@dataclass(frozen=True)
class Fit:
    """The two-way (arm + block) additive model fitted to complete blocks."""

    n_arms: int
    n_blocks: int
    residual_var: float
    """Per-trial variance left after arm and block effects (unit²)."""
    drift_var: float
    """Variance of the block effects: drift shared by the arms of a repeat (unit²)."""
    homogeneity_p: float = math.nan
    """Bartlett's test that every arm's residuals have the same spread (NaN: < 3 arms)."""

    @property
    def df(self) -> int:
        return (self.n_arms - 1) * (self.n_blocks - 1)


def two_way(y: NDArray[np.float64]) -> Fit | None:
    """Fit ``y`` (arms x blocks) on its complete blocks (columns with no NaN).

    None when fewer than two arms or two complete blocks remain (no residual left).
    """
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 2:
        raise ValueError(f"expected arms x blocks, got shape {y.shape}")
    full = y[:, np.isfinite(y).all(axis=0)]
    m, r = full.shape
    if m < 2 or r < 2:
        return None
    grand = full.mean()
    arm = full.mean(axis=1, keepdims=True)
    block = full.mean(axis=0, keepdims=True)
    resid = full - arm - block + grand
    ms_resid = float((resid**2).sum()) / ((m - 1) * (r - 1))
    ms_block = m * float(((block - grand) ** 2).sum()) / (r - 1)
    drift = max(0.0, (ms_block - ms_resid) / m)
    homogeneity = math.nan
    if m >= 3 and r >= 3 and ms_resid > 0:
        test = stats.bartlett(*resid)
        # equal spreads give a statistic of 0 up to rounding, whose p-value scipy leaves NaN
        homogeneity = (
            float(test.pvalue)
            if math.isfinite(test.pvalue)
            else (1.0 if abs(float(test.statistic)) < 1e-9 else math.nan)
        )
    return Fit(m, r, ms_resid, drift, homogeneity)


@dataclass(frozen=True)
class Contrast:
    """``treatment - control`` estimated from the blocks both appear in."""

    estimate: float
    se: float
    df: float
    low: float
    high: float
    p_value: float
    n_blocks: int
    method: str
    confidence: float

    @property
    def sd_block(self) -> float:
        """Standard deviation of one block's contrast (what more repeats average down)."""
        return self.se * math.sqrt(self.n_blocks) if self.method != UNPAIRED else math.nan

    def mde(self, power: float = POWER) -> float:
        """Smallest true effect this design detects with probability ``power`` (two-sided)."""
        return _mde(self.se, self.df, self.confidence, power)


def _mde(se: float, df: float, confidence: float, power: float) -> float:
    if not (df >= 1 and math.isfinite(se)):
        return math.nan
    return float((stats.t.ppf(1 - (1 - confidence) / 2, df) + stats.t.ppf(power, df)) * se)


def no_contrast(
    n_blocks: int, method: str, confidence: float, estimate: float = math.nan
) -> Contrast:
    """A contrast with too little data for an interval (one block at most)."""
    nan = math.nan
    return Contrast(estimate, nan, nan, nan, nan, nan, n_blocks, method, confidence)


def interval(est: float, se: float, df: float, n: int, method: str, confidence: float) -> Contrast:
    """The t interval and two-sided p-value of an estimate with standard error ``se``."""
    if se > 0:
        half = float(stats.t.ppf(1 - (1 - confidence) / 2, df)) * se
        p = float(2 * stats.t.sf(abs(est) / se, df))
    else:  # identical contrasts in every block: no noise to speak of
        half, p = 0.0, (1.0 if est == 0 else 0.0)
    return Contrast(est, se, df, est - half, est + half, p, n, method, confidence)


def contrast(
    y: NDArray[np.float64],
    treatment: int,
    control: int,
    *,
    confidence: float = 0.95,
    interleaved: bool = True,
    fit: Fit | None = None,
) -> Contrast:
    """Contrast of rows ``treatment`` and ``control`` of ``y`` (arms x blocks, NaN where
    a trial is missing or invalid). ``fit``: :func:`two_way` of ``y`` if already known.

    Fewer than two usable blocks (or trials per side, unpaired): every figure is NaN.
    """
    y = np.asarray(y, dtype=np.float64)
    if not interleaved:
        return _unpaired(y[treatment], y[control], confidence)
    both = np.isfinite(y[treatment]) & np.isfinite(y[control])
    d = y[treatment, both] - y[control, both]
    n = int(d.size)
    if n < 2:
        return no_contrast(n, PAIRED, confidence, float(d.mean()) if n else math.nan)
    est = float(d.mean())
    var_d = float(d.var(ddof=1))
    fit = fit if fit is not None else two_way(y)
    if fit is not None and fit.homogeneity_p >= HOMOGENEITY_ALPHA:
        pooled = 2 * fit.residual_var
        noisier = var_d / pooled > stats.f.ppf(1 - HOMOGENEITY_ALPHA, n - 1, fit.df)
        if not noisier:
            return interval(est, math.sqrt(pooled / n), fit.df, n, TWO_WAY, confidence)
    return interval(est, math.sqrt(var_d / n), n - 1, n, PAIRED, confidence)


def _unpaired(t: NDArray[np.float64], c: NDArray[np.float64], confidence: float) -> Contrast:
    t, c = t[np.isfinite(t)], c[np.isfinite(c)]
    n = int(min(t.size, c.size))
    if n < 2:
        return no_contrast(0, UNPAIRED, confidence)
    vt, vc = float(t.var(ddof=1)) / t.size, float(c.var(ddof=1)) / c.size
    se = math.sqrt(vt + vc)
    denom = vt**2 / (t.size - 1) + vc**2 / (c.size - 1)
    df = (vt + vc) ** 2 / denom if denom > 0 else float(n - 1)
    return interval(float(t.mean() - c.mean()), se, df, 0, UNPAIRED, confidence)


def difference(a: Contrast, b: Contrast) -> Contrast:
    """``b - a`` of two independent estimates (e.g. one run's overhead against another's):
    standard errors add in quadrature, Welch-Satterthwaite degrees of freedom."""
    va, vb = a.se**2, b.se**2
    denom = (va**2 / a.df if a.df > 0 else 0.0) + (vb**2 / b.df if b.df > 0 else 0.0)
    df = (va + vb) ** 2 / denom if denom > 0 else min(a.df, b.df)
    if not (math.isfinite(a.estimate) and math.isfinite(b.estimate) and math.isfinite(df)):
        return no_contrast(0, UNPAIRED, b.confidence)
    return interval(
        b.estimate - a.estimate,
        math.sqrt(va + vb),
        df,
        min(a.n_blocks, b.n_blocks),
        UNPAIRED,
        b.confidence,
    )


def repeats_to_detect(c: Contrast, effect: float, n_arms: int, power: float = POWER) -> int | None:
    """About how many repeats would detect a true ``effect`` with ``power``, keeping this
    run's per-block noise and design (None when that cannot be estimated)."""
    sd = c.sd_block
    if not (math.isfinite(sd) and effect > 0):
        return None
    if sd == 0:
        return 2
    for r in range(2, MAX_REPEATS_SUGGESTED + 1):
        df = (n_arms - 1) * (r - 1) if c.method == TWO_WAY else r - 1
        if _mde(sd / math.sqrt(r), df, c.confidence, power) <= effect:
            return r
    return None


def repeats_for_difference(
    sd_a: float,
    sd_b: float,
    effect: float,
    confidence: float,
    df_per_repeat: tuple[int, int] = (1, 1),
    power: float = POWER,
) -> int | None:
    """About how many repeats *in each of two independent runs* would detect a true
    difference ``effect`` between their estimates with ``power``, keeping each run's
    per-block noise (``sd_a``, ``sd_b``: the sd of one block's contrast, or of one trial
    for an unpaired level) and design: run *i* with ``r`` repeats has
    ``df_per_repeat[i] * (r - 1)`` degrees of freedom (1 for paired contrasts, arms - 1
    for the two-way fit); the two combine as in :func:`difference`. None when it cannot
    be estimated or needs more than :data:`MAX_REPEATS_SUGGESTED`."""
    if not (math.isfinite(sd_a) and math.isfinite(sd_b) and effect > 0):
        return None
    if sd_a == 0 and sd_b == 0:
        return 2
    ka, kb = df_per_repeat
    for r in range(2, MAX_REPEATS_SUGGESTED + 1):
        va, vb = sd_a**2 / r, sd_b**2 / r
        dfa, dfb = ka * (r - 1), kb * (r - 1)
        denom = va**2 / dfa + vb**2 / dfb
        df = (va + vb) ** 2 / denom if denom > 0 else float(min(dfa, dfb))
        if _mde(math.sqrt(va + vb), df, confidence, power) <= effect:
            return r
    return None


def df_per_repeat(method: str, n_arms: int) -> int:
    """Degrees of freedom one more repeat adds to a contrast estimated by ``method``."""
    return max(n_arms - 1, 1) if method == TWO_WAY else 1


def holm(p_values: Sequence[float] | NDArray[np.float64]) -> NDArray[np.float64]:
    """Holm's step-down adjustment (NaN stays NaN): controls the chance of any false
    "slower"/"faster" in the family at the nominal level."""
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if ok.size == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    m = order.size
    running = 0.0
    for i, idx in enumerate(order):
        running = max(running, min(1.0, (m - i) * float(p[idx])))
        out[idx] = running
    return out


def interleaved(blocks: Sequence[Sequence[int]]) -> bool:
    """Whether each block's trials (their execution order numbers) ran back to back:
    every block ends before the next begins. A run of all ``none`` trials, then all of
    a mesh's (mesh confounded with time) is not."""
    spans = sorted((min(b), max(b)) for b in blocks if len(b))
    return all(prev[1] < nxt[0] for prev, nxt in itertools.pairwise(spans))
