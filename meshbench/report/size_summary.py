"""What ``meshbench size`` prints: the variance components behind the answer, the
cheapest run that detects the effect, and the scenario settings that make it."""

from __future__ import annotations

import math

from meshbench.analysis import histograms as hist
from meshbench.analysis.sizing import Sizing, sd_ms
from meshbench.analysis.stored_run import Run
from meshbench.report import fmt


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def size_lines(s: Sizing, run: Run, power: float = 0.8) -> list[str]:
    """The ``meshbench size`` report, one line each."""
    lbl = hist.label(s.percentile)
    lines = [
        f"meshbench size: detect {fmt.ms(s.effect_ms)} ms at {lbl} with {power:.0%} power, "
        f"from run {run.run_id}",
        f"sd of one repeat's mesh - none contrast at {lbl} (ms), this run's trials of "
        f"{s.duration_s:g} s:",
    ]
    for c in s.components:
        mde = s.current_mde_ms.get((c.mesh, c.cell), math.nan)
        dep = fmt.ms(sd_ms(c.deployment)) if c.deployment is not None else c.deployment_note
        lines.append(
            f"  {c.mesh} at {c.cell.title(run.swept)}: sampling {fmt.ms(sd_ms(c.sampling))}, "
            f"trial {fmt.ms(sd_ms(c.trial))}, deployment {dep}; this run ({c.repeats} "
            f"repeats) detects {fmt.ms(mde)} ms"
        )
    best = s.best
    if best is None:
        lines.append(
            f"no run of up to 1000 repeats and trials of up to {max(4 * s.duration_s, 1):g} s "
            f"detects {fmt.ms(s.effect_ms)} ms at {lbl}: choose a larger effect or make the "
            "host quieter"
        )
    else:
        trials = s.trials_per_repeat * best.repeats
        lines.append(
            f"smallest run that detects it: {best.repeats} repeats on {best.deployments} "
            f"fresh deployment(s) of every arm, {best.duration_s:g} s per trial (after "
            f"{s.warmup_s:g} s warm-up): {trials} trials, about {_minutes(best.run_s)} "
            f"(MDE {fmt.ms(best.mde_ms)} ms)"
        )
        lines.append(
            f"scenario settings: repeats: {best.repeats}, deployments: {best.deployments}, "
            f"load.duration_s: {best.duration_s:g}"
        )
        for d in s.options[1:]:
            lines.append(
                f"  or {d.repeats} repeats of {d.duration_s:g} s trials: about "
                f"{_minutes(d.run_s)} (MDE {fmt.ms(d.mde_ms)} ms)"
            )
    lines.append(
        f"time per trial beyond warm-up and measurement, as this run took: {s.overhead_s:.1f} s"
    )
    lines += [f"note: {n}" for n in s.notes]
    return lines
