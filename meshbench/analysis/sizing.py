"""How big a run must be to detect an effect: ``meshbench size RUN --detect 0.5ms@p99``.

From a run's own variance components (:mod:`meshbench.analysis.variance`), per mesh and
cell at one percentile: the contrast ``mesh - none`` of one repeat varies by

- *sampling*: the noise of a trial's percentile from its finite samples (half-split
  estimate); it shrinks in proportion to the measured seconds per trial;
- *trial*: what is left of the repeat-to-repeat spread once sampling is taken out;
- *deployment*: the extra spread between fresh deployments of every arm, measured only
  when the run had several deployments with several repeats each (with one repeat per
  deployment it is inside *trial*, as it will be in the design suggested; with one
  deployment it was not measured and the sizes below cannot include it).

A design of ``R`` repeats, each on fresh deployments of every arm (``deployments: R``;
on kind one deployment per mesh), of ``T`` measured seconds per trial, then has a
minimum detectable effect ``(t(1 - alpha/2, R-1) + t(power, R-1)) * sqrt(V(T) / R)``
with ``V(T) = deployment + trial + sampling * T_run / T`` (paired contrasts: the
two-way pooling a report may use only makes the interval narrower). Its duration is
arms x cells x R trials of warm-up + T + the run's own measured overhead per trial.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from scipy import stats

from meshbench.analysis import blocks
from meshbench.analysis import histograms as hist
from meshbench.analysis.overhead import cell_matrix, overhead
from meshbench.analysis.stored_run import Run
from meshbench.analysis.variance import one_way, within_trial_var_us2
from meshbench.analysis.verdicts import MIN_TAIL_SAMPLES, analysis_spec
from meshbench.config.dimensions import AA_CONTROL, BASELINE, Cell, cell_of
from meshbench.errors import MeshbenchError

DURATION_FACTORS = (0.5, 1.0, 2.0, 4.0)
"""Measured seconds per trial considered, as multiples of the run's own."""
MAX_REPEATS = blocks.MAX_REPEATS_SUGGESTED
_DETECT = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*ms\s*@\s*p([0-9]*\.?[0-9]+)\s*$")


class SizingError(MeshbenchError):
    """The effect to detect is malformed, or the run cannot size a design."""


def parse_detect(text: str) -> tuple[float, float]:
    """``"0.5ms@p99"`` -> ``(0.5, 99.0)`` (effect in ms, percentile)."""
    m = _DETECT.match(text)
    q = float(m.group(2)) if m else math.nan
    if not m or not 0 < q < 100 or float(m.group(1)) <= 0:
        raise SizingError(
            f"cannot read the effect {text!r}",
            fix="write it as <ms>ms@p<percentile>, e.g. 0.5ms@p99 or 0.2ms@p50",
        )
    return float(m.group(1)), q


@dataclass(frozen=True)
class Components:
    """Variance components of one repeat's contrast ``mesh - none`` (ms²)."""

    mesh: str
    cell: Cell
    repeats: int
    sampling: float
    trial: float
    deployment: float | None
    """None: not measured (one deployment) or not separable (one repeat per deployment:
    then it is inside ``trial``)."""
    deployment_note: str

    def block_var(self, duration_ratio: float) -> float:
        """Variance of one repeat's contrast at ``duration_ratio`` x the run's trial length."""
        return (self.deployment or 0.0) + self.trial + self.sampling / duration_ratio


@dataclass(frozen=True)
class Design:
    """A run that would detect the effect: repeats (each on fresh deployments where the
    platform can), measured seconds per trial, and how long it would take."""

    repeats: int
    deployments: int
    duration_s: float
    mde_ms: float
    """The largest MDE over the meshes and cells at this design."""
    run_s: float


@dataclass(frozen=True)
class Sizing:
    """Everything ``meshbench size`` prints."""

    effect_ms: float
    percentile: float
    components: list[Components]
    current_mde_ms: dict[tuple[str, Cell], float]
    """MDE of the run's own analysis per mesh x cell at the percentile."""
    options: list[Design]
    """The fewest repeats meeting the effect at each trial length (cheapest first)."""
    duration_s: float
    warmup_s: float
    overhead_s: float
    """Measured per-trial time outside warm-up and measurement (deploys, checks)."""
    trials_per_repeat: int
    min_duration_s: float
    """Shortest trial whose every trial has enough samples beyond the percentile."""
    notes: list[str]

    @property
    def best(self) -> Design | None:
        return self.options[0] if self.options else None


def mde(
    var_block_ms2: float, repeats: int, confidence: float, power: float, runs: int = 1
) -> float:
    """MDE (ms) of the mean of ``repeats`` paired contrasts of variance ``var_block_ms2``;
    with ``runs=2``, of the difference of two such means from independent runs (what
    ``gate`` compares: variances and degrees of freedom add)."""
    df = runs * (repeats - 1)
    if df < 1:
        return math.nan
    t = float(stats.t.ppf(1 - (1 - confidence) / 2, df) + stats.t.ppf(power, df))
    return t * math.sqrt(runs * var_block_ms2 / repeats)


def components(run: Run, cell: Cell, mesh: str, q: float) -> Components:
    """The variance components of ``mesh - none`` at ``q`` in one cell of ``run``."""
    m = cell_matrix(run, cell, [q])
    i, b = m.arms.index(mesh), m.arms.index(BASELINE)
    y = m.values_us[:, :, 0] / 1000
    both = np.isfinite(y[i]) & np.isfinite(y[b])
    d = (y[i] - y[b])[both]
    deps = [dep for dep, ok in zip(m.deployments, both, strict=True) if ok]
    t = run.trials
    ids = t.loc[cell.matches(t) & t["included"] & t["mesh"].isin([mesh, BASELINE]), "trial_id"]
    within = [within_trial_var_us2(run, str(x), q) for x in ids]
    finite = [w for w in within if math.isfinite(w)]
    sampling = 2 * float(np.mean(finite)) / 1e6 if finite else 0.0
    n_deps = len(set(deps))
    if n_deps > 1 and n_deps < d.size:
        rep_var, dep_var = one_way(d.tolist(), deps)
        note = f"measured over {n_deps} deployments"
        dep: float | None = dep_var if math.isfinite(dep_var) else None
    else:
        rep_var = float(d.var(ddof=1)) if d.size >= 2 else math.nan
        dep = None
        note = (
            "inside the trial component (every repeat had its own deployments)"
            if n_deps > 1
            else "not measured: every arm was deployed once, so the sizes below leave it out "
            "(on this machine it was as large as the trial component)"
        )
    if not math.isfinite(rep_var):
        raise SizingError(
            f"{mesh} at {cell.title(run.swept)} has {d.size} repeat(s) with both arms valid; "
            "sizing needs at least 2",
            fix="size from a run with at least 2 valid repeats (3 or more for a usable estimate)",
        )
    return Components(mesh, cell, int(d.size), sampling, max(0.0, rep_var - sampling), dep, note)


def _overhead_s(run: Run, warmup_s: float, duration_s: float) -> float:
    """Measured wall time per trial beyond warm-up and measurement (0 if not recorded)."""
    try:
        start = datetime.fromisoformat(str(run.meta["created_utc"]))
        end = datetime.fromisoformat(str(run.meta["finished_utc"]))
    except (KeyError, ValueError):
        return 0.0
    n = len(run.trials)
    return max(0.0, (end - start).total_seconds() / n - warmup_s - duration_s) if n else 0.0


def size_run(
    run: Run,
    effect_ms: float,
    percentile: float,
    power: float = blocks.POWER,
    *,
    gate: bool = False,
) -> Sizing:
    """Size a run that detects ``effect_ms`` at ``percentile`` in every mesh and cell of
    ``run`` with ``power``, from ``run``'s own variance (see the module docstring). With
    ``gate``, size each of two runs so that ``meshbench gate`` detects a change of
    ``effect_ms`` between them."""
    if not run.has_baseline:
        raise SizingError(
            f"run {run.run_id} has no '{BASELINE}' arm: no overhead to size",
            fix=f"size from a run whose meshes include '{BASELINE}'",
        )
    spec = analysis_spec(run)
    load = run.scenario.get("load") or {}
    duration_s = float(load.get("duration_s") or 0.0)
    warmup_s = float(load.get("warmup_s") or 0.0)
    meshes = [m for m in run.meshes if m not in (BASELINE, AA_CONTROL)]
    comps = [components(run, cell, mesh, percentile) for cell in run.cells for mesh in meshes]
    o = run_overhead(run, percentile)
    need = math.ceil(MIN_TAIL_SAMPLES / (1 - percentile / 100) - 1e-9)
    min_rate = min(c.rate_rps for c in run.cells)
    min_duration = need / min_rate if min_rate > 0 else 0.0
    overhead = _overhead_s(run, warmup_s, duration_s)
    arms = len(run.meshes)
    per_repeat = arms * len(run.cells)
    local = run.platform == "local"
    options = []
    for f in DURATION_FACTORS:
        t_s = duration_s * f
        if t_s < min_duration:
            continue
        for r in range(2, MAX_REPEATS + 1):
            runs = 2 if gate else 1
            worst = max(mde(c.block_var(f), r, spec.confidence, power, runs) for c in comps)
            if worst <= effect_ms:
                run_s = per_repeat * r * (warmup_s + t_s + overhead)
                options.append(Design(r, r if local else 1, t_s, worst, run_s))
                break
    options.sort(key=lambda d: d.run_s)
    notes = []
    if gate:
        notes.append("sized for gate: each of the two runs needs this design")
    if local and int(run.scenario.get("deployments") or 1) == 1:
        notes.append(
            "the time per trial was measured with one deployment per arm; fresh deployments "
            "for every repeat add their set-up time"
        )
    if not local:
        notes.append(
            "on kind each mesh is installed once per run (deployments: 1): the sizes cannot "
            "cover deployment-to-deployment variation"
        )
    if any(c.deployment is None and "not measured" in c.deployment_note for c in comps):
        notes.append(
            "deployment-to-deployment variance was not measured by this run (one deployment "
            "per arm): the sizes are a lower bound; size again from a run with deployments > 1"
        )
    if min_duration > duration_s:
        notes.append(
            f"{hist.label(percentile)} needs >= {need:,} samples per trial: trials of at "
            f"least {min_duration:.3g} s at {min_rate:g} rps"
        )
    return Sizing(
        effect_ms,
        percentile,
        comps,
        o,
        options,
        duration_s,
        warmup_s,
        overhead,
        per_repeat,
        min_duration,
        notes,
    )


def run_overhead(run: Run, percentile: float) -> dict[tuple[str, Cell], float]:
    """The run's own MDE (its report's analysis) per mesh x cell at ``percentile``."""
    o = overhead(run, percentiles=[percentile], primary=[percentile])
    return {
        (str(r["mesh"]), cell_of(r)): float(r["mde_ms"])
        for r in o.to_dict("records")
        if r["mesh"] not in (BASELINE, AA_CONTROL)
    }


def sd_ms(var: float | None) -> float:
    """A variance (ms²) as a standard deviation (ms); NaN for None."""
    return math.sqrt(var) if var is not None and math.isfinite(var) else math.nan
