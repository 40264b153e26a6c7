"""The headline sentences of a report: what a sidecar adds, with its interval and budget share."""

from __future__ import annotations

import numpy as np

from meshbench.analysis import histograms as hist
from meshbench.analysis.overhead import FASTER, SLOWER, TOO_FEW, WITHIN_NOISE
from meshbench.analysis.run import AA_CONTROL, BASELINE, Cell
from meshbench.analysis.summary import Analysis
from meshbench.report import fmt


def headline_percentiles(an: Analysis) -> list[float]:
    """The SLO percentile if there is one, else p50 and p99."""
    return [an.slo.percentile] if an.slo is not None else [50.0, 99.0]


def verdict_lines(an: Analysis) -> list[str]:
    """One sentence per mesh x rate x headline percentile (plain text, Markdown-safe)."""
    run = an.run
    if run.trials.empty:
        return ["No trial has finished yet."]
    if not run.has_baseline:
        return [f"No verdict on overhead: this run has no '{BASELINE}' baseline to compare "
                "against. The tables show each mesh's own latency."]
    conf = round(an.overhead.attrs.get("confidence", 0.95) * 100)
    lines = []
    o = an.overhead
    for q in headline_percentiles(an):
        lbl = hist.label(q)
        for cell in run.cells:
            where = f"At {cell.title(run.swept)} through {_path(cell.depth)}"
            for mesh in [m for m in run.meshes if m != BASELINE]:
                row = o[(o["mesh"] == mesh) & cell.matches(o) & np.isclose(o["percentile"], q)]
                if row.empty:
                    continue
                r = row.iloc[0]
                name = f"the A/A control ({mesh})" if mesh == AA_CONTROL else mesh
                ci = (f"{conf}% CI {fmt.delta_ms(r['ci_low_ms'])} to "
                      f"{fmt.delta_ms(r['ci_high_ms'])} ms")
                v = r["verdict"]
                if v in (SLOWER, FASTER):
                    verb = "adds" if v == SLOWER else "changes"
                    s = (f"{where}, {name} {verb} {fmt.delta_ms(r['overhead_ms'])} ms to "
                         f"{lbl} ({ci}; {fmt.pct(r['overhead_pct'])})")
                elif v == WITHIN_NOISE:
                    s = (f"{where}, {name} changes {lbl} by "
                         f"{fmt.delta_ms(r['overhead_ms'])} ms, within noise ({ci})")
                elif v == TOO_FEW:
                    s = (f"{where}, {name} changes {lbl} by {fmt.delta_ms(r['overhead_ms'])} ms"
                         f" ({fmt.whole(r['n_mesh'])} vs {fmt.whole(r['n_baseline'])} valid "
                         "trials: too few repeats for an interval)")
                else:
                    s = f"{where}, {name}: no valid trials to compare"
                if mesh != AA_CONTROL:
                    s += _budget_clause(an, mesh, cell, q, fmt.num(r["overhead_ms"]))
                lines.append(s + ".")
    return lines


def _path(depth: int) -> str:
    return f"a {depth}-hop call chain" if depth > 0 else "the scenario's topology"


def _budget_clause(an: Analysis, mesh: str, cell: Cell, q: float, overhead_ms: float) -> str:
    if an.slo is None or an.slo_verdicts is None or not np.isclose(q, an.slo.percentile):
        return ""
    v = an.slo_verdicts
    row = v[(v["mesh"] == mesh) & cell.matches(v)]
    if row.empty:
        return ""
    r = row.iloc[0]
    share = overhead_ms / an.slo.budget_ms * 100
    status = "within" if r["passes"] else "over"
    return (f": {share:.1f}% of the {fmt.ms(an.slo.budget_ms)} ms budget; with it {hist.label(q)}"
            f" is {fmt.ms(r['value_ms'])} ms, {status} budget")
