"""Everything a report needs from one run, computed once: :func:`analyse`."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from meshbench.analysis import histograms as hist
from meshbench.analysis.cells import NOISY_SPREAD_PCT, cell_percentiles, noise, trial_counts
from meshbench.analysis.overhead import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    MIN_TRIALS,
    overhead,
)
from meshbench.analysis.run import AA_CONTROL, BASELINE, DIMS, Run, Slo, cell_of
from meshbench.analysis.slo import max_rate_within_budget, slo_verdicts


@dataclass
class Analysis:
    """Tables of one run: pooled cells, overheads with intervals, noise, SLO verdicts."""

    run: Run
    percentiles: tuple[float, ...]
    counts: pd.DataFrame
    cells: pd.DataFrame
    overhead: pd.DataFrame
    noise: pd.DataFrame
    slo: Slo | None
    slo_verdicts: pd.DataFrame | None
    max_rates: pd.DataFrame | None
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def seed(self) -> int:
        return int(self.overhead.attrs.get("seed", self.run.seed))

    @property
    def n_boot(self) -> int:
        return int(self.overhead.attrs.get("n_boot", DEFAULT_RESAMPLES))


def analyse(
    run: Run,
    *,
    slo: Slo | None = None,
    n_boot: int = DEFAULT_RESAMPLES,
    seed: int | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Analysis:
    """Pool, compare against ``none``, bootstrap and check the SLO (the scenario's unless
    ``slo`` is given). Never raises for a run that is merely incomplete or has no
    baseline: those become warnings and notes."""
    slo = slo or run.slo
    pcts = list(hist.PERCENTILES)
    if slo is not None and not any(abs(slo.percentile - q) < 1e-9 for q in pcts):
        pcts = sorted([*pcts, slo.percentile])
    percentiles = tuple(pcts)
    counts = trial_counts(run)
    cells = cell_percentiles(run, percentiles)
    over = overhead(run, percentiles=percentiles, n_boot=n_boot, seed=seed, confidence=confidence)
    spread = noise(run, percentiles)
    verdicts = slo_verdicts(cells, over, slo) if slo is not None else None
    max_rates = max_rate_within_budget(verdicts) if verdicts is not None else None

    warnings = list(run.warnings)
    notes: list[str] = []
    bad = run.trials[~run.trials["valid"]]
    if len(bad):
        listed = "; ".join(
            f"{t} ({r or 'no reason recorded'})"
            for t, r in zip(bad["trial_id"], bad["invalid_reason"], strict=True)
        )
        warnings.append(f"{len(bad)} invalid trial(s) excluded: {listed}")
    noisy = spread[spread["noisy"].astype(bool)]
    swept = run.swept
    for _key, g in noisy.groupby(["mesh", *DIMS], sort=False):
        worst = g.sort_values("spread_pct").iloc[-1]
        warnings.append(
            f"noisy repeats: {worst['mesh']} at {cell_of(worst).title(swept)}: "
            f"{worst['label']} varies "
            f"{worst['spread_pct']:.0f}% between its {int(worst['n'])} repeats "
            f"({worst['min_ms']:.3f}-{worst['max_ms']:.3f} ms; limit {NOISY_SPREAD_PCT:g}%)"
        )
    if run.trials.empty:
        warnings.append("no trial has finished yet")
    elif not run.has_baseline:
        notes.append(
            f"this run has no '{BASELINE}' mesh, so no overhead against a baseline is computed"
        )
    else:
        few = counts[(counts["trials_valid"] < MIN_TRIALS)].to_dict("records")
        if few:
            listed = ", ".join(f"{r['mesh']} at {cell_of(r).title(swept)} ({r['trials_valid']})"
                               for r in few[:6]) + (", ..." if len(few) > 6 else "")
            warnings.append(
                f"{len(few)} mesh x cell combination(s) have fewer than {MIN_TRIALS} valid "
                f"trials, so no confidence interval: {listed}; raise `repeats`"
            )
        aa = over[(over["mesh"] == AA_CONTROL) & over["significant"].astype(bool)]
        for row in aa.to_dict("records"):
            warnings.append(
                f"A/A control failed: {AA_CONTROL} differs from {BASELINE} by "
                f"{row['overhead_ms']:+.3f} ms at {row['label']} ({cell_of(row).title(swept)}), "
                "although both are deployed the same way: differences of that size are noise"
            )
    return Analysis(run, percentiles, counts, cells, over, spread, slo, verdicts, max_rates,
                    warnings, notes)
