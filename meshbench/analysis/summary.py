"""Everything a report needs from one run, computed once: :func:`analyse`."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from meshbench.analysis import histograms as hist
from meshbench.analysis.attribution import Attribution, attribute_run
from meshbench.analysis.cells import cell_percentiles, trial_counts
from meshbench.analysis.diagnostics import design_diagnostics
from meshbench.analysis.features import feature_costs
from meshbench.analysis.overhead import overhead
from meshbench.analysis.slo import Slo, max_rate_within_budget, slo_verdicts
from meshbench.analysis.stalls import Stall, find_stalls
from meshbench.analysis.stored_run import Run
from meshbench.analysis.verdicts import FASTER, SLOWER, analysis_spec, primary_percentiles
from meshbench.config.dimensions import AA_CONTROL, BASELINE, cell_of
from meshbench.config.scenario import AnalysisSpec


@dataclass
class Analysis:
    """Tables of one run: pooled cells, overheads with intervals and verdicts, design
    diagnostics, SLO verdicts."""

    run: Run
    spec: AnalysisSpec
    primary: tuple[float, ...]
    percentiles: tuple[float, ...]
    counts: pd.DataFrame
    cells: pd.DataFrame
    overhead: pd.DataFrame
    diagnostics: pd.DataFrame
    slo: Slo | None
    slo_verdicts: pd.DataFrame | None
    max_rates: pd.DataFrame | None
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stalls: list[Stall] = field(default_factory=list)
    """Trials whose tail rests on one stalled second (:mod:`~meshbench.analysis.stalls`)."""
    attribution: Attribution | None = None
    """Where the overhead goes, when the run captured (``attribution:``)."""
    features: pd.DataFrame | None = None
    """Each decomposition arm's marginal cost against its reference arm
    (:mod:`~meshbench.analysis.features`); None when the run has none."""

    @property
    def confidence(self) -> float:
        return self.spec.confidence


def analyse(
    run: Run,
    *,
    slo: Slo | None = None,
    spec: AnalysisSpec | None = None,
) -> Analysis:
    """Pool, compare against ``none`` within repeats, give verdicts and check the SLO
    (the scenario's ``slo`` and ``analysis`` settings unless given). Never raises for a
    run that is merely incomplete or has no baseline: those become warnings and notes."""
    slo = slo or run.slo
    spec = spec or analysis_spec(run)
    primary = tuple(primary_percentiles(spec, slo.percentile if slo else None))
    extra = (slo.percentile,) if slo is not None else ()
    percentiles = tuple(sorted({*hist.PERCENTILES, *primary, *extra}))
    counts = trial_counts(run)
    cells = cell_percentiles(run, percentiles)
    over = overhead(run, percentiles=percentiles, spec=spec, primary=primary)
    costs = feature_costs(run, percentiles=percentiles, spec=spec, primary=primary)
    diag = design_diagnostics(run, primary, over)
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
    flagged = run.trials[run.trials["host_flag"] != ""]
    if len(flagged):
        listed = "; ".join(
            f"{t} ({f})" for t, f in zip(flagged["trial_id"], flagged["host_flag"], strict=True)
        )
        warnings.append(
            f"{len(flagged)} trial(s) ran while the host was busy with something else (kept, "
            f"but their latency may include it): {listed}. Find the cause (another run, a "
            "noisy neighbour VM) and rerun on a quiet host"
        )
    swept = run.swept
    confounded = sorted(
        {
            cell_of(r).title(swept)
            for r in diag[~diag["interleaved"].astype(bool)].to_dict("records")
        }
    )
    if confounded and run.has_baseline and len(run.meshes) > 1:
        warnings.append(
            "arms not interleaved in time at " + ", ".join(confounded) + ": each repeat's "
            "trials did not run back to back, so mesh is confounded with time; compared "
            "unpaired (Welch) with no blocked interval. Rerun on a platform that interleaves "
            "the baseline with every mesh"
        )
    if run.trials.empty:
        warnings.append("no trial has finished yet")
    elif not run.has_baseline:
        notes.append(
            f"this run has no '{BASELINE}' mesh, so no overhead against a baseline is computed"
        )
    else:
        few = counts[(counts["trials_valid"] < 2)].to_dict("records")
        if few:
            listed = ", ".join(
                f"{r['mesh']} at {cell_of(r).title(swept)} ({r['trials_valid']})" for r in few[:6]
            ) + (", ..." if len(few) > 6 else "")
            warnings.append(
                f"{len(few)} mesh x cell combination(s) have fewer than 2 valid "
                f"trials, so no confidence interval: {listed}; raise `repeats`"
            )
        aa = over[(over["mesh"] == AA_CONTROL) & over["verdict"].isin([SLOWER, FASTER])]
        for row in aa.to_dict("records"):
            warnings.append(
                f"A/A control failed: {AA_CONTROL} differs from {BASELINE} by "
                f"{row['overhead_ms']:+.3f} ms at {row['label']} ({cell_of(row).title(swept)}), "
                "although both are deployed the same way: this run's intervals understate "
                "its noise"
            )
        flip = over[
            over["p_signflip"].notna()
            & over["verdict"].isin([SLOWER, FASTER])
            & (over["p_signflip"] >= 1 - spec.confidence)
        ]
        for row in flip.to_dict("records"):
            notes.append(
                f"{row['mesh']} {row['label']} at {cell_of(row).title(swept)}: the sign-flip "
                f"cross-check gives p = {row['p_signflip']:.3f} where the t interval gives "
                f"{row['p_value']:.4f}; the repeats' contrasts are far from normal"
            )
    stalls = find_stalls(run)
    attribution = None
    if "on" in set(run.trials.get("capture", ())):
        attribution = attribute_run(run)
        notes.append(
            "attribution mode was on: trials with capture on ran with every pod's interfaces "
            "captured and every request named; their overhead is shown beside the "
            "uncaptured trials' (observer effect), and the split is in 'Where the overhead goes'"
        )
    if stalls:
        warnings.append(
            f"{len(stalls)} trial(s) have a tail resting on one stalled second: "
            + ", ".join(s.trial_id for s in stalls)
            + " (see 'Stalls' for what the host and the pods did then)"
        )
    return Analysis(
        run,
        spec,
        primary,
        percentiles,
        counts,
        cells,
        over,
        diag,
        slo,
        verdicts,
        max_rates,
        warnings,
        notes,
        stalls,
        attribution,
        costs if len(costs) else None,
    )
