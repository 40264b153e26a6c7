"""The headline sentences of a report: what a sidecar adds, with its interval and budget share."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from meshbench.analysis import histograms as hist
from meshbench.analysis import verdicts as vd
from meshbench.analysis.attribution import largest_part_sentences
from meshbench.analysis.summary import Analysis
from meshbench.config.dimensions import AA_CONTROL, BASELINE, Cell
from meshbench.report import fmt


def verdict_lines(an: Analysis) -> list[str]:
    """One sentence per mesh x cell x primary percentile (plain text, Markdown-safe)."""
    run = an.run
    if run.trials.empty:
        return ["No trial has finished yet."]
    if not run.has_baseline:
        return [
            f"No verdict on overhead: this run has no '{BASELINE}' baseline to compare "
            "against. The tables show each mesh's own latency."
        ]
    lines = []
    o = an.overhead
    for q in an.primary:
        for cell in run.cells:
            where = f"At {cell.title(run.swept)} through {_path(cell.depth)}"
            for mesh in [m for m in run.meshes if m != BASELINE]:
                row = o[(o["mesh"] == mesh) & cell.matches(o) & np.isclose(o["percentile"], q)]
                if row.empty:
                    continue
                r = row.iloc[0].to_dict()
                name = f"the A/A control ({mesh})" if mesh == AA_CONTROL else mesh
                s = f"{where}, {name} {_sentence(r, an.confidence)}"
                if mesh != AA_CONTROL:
                    s += _budget_clause(an, mesh, cell, q, fmt.num(r["overhead_ms"]))
                lines.append(s + ".")
    if an.attribution is not None and not an.attribution.empty:
        for sentence in largest_part_sentences(an.attribution, run.swept):
            lines.append(f"Where the overhead goes (captured trials), {sentence}.")
    return lines


def _sentence(r: Mapping[Any, Any], confidence: float) -> str:
    """What one overhead row says, in words that cannot be read as more than it shows."""
    lbl = str(r["label"])
    v = str(r["verdict"])
    conf = round(confidence * 100)
    ci = f"{conf}% CI {fmt.delta_ms(r['ci_low_ms'])} to {fmt.delta_ms(r['ci_high_ms'])} ms"
    est = fmt.delta_ms(r["overhead_ms"])
    n = fmt.whole(r["n_blocks"])
    up = fmt.num(r["overhead_ms"]) > 0
    k = fmt.whole(r["blocks_slower"]) if up else n - fmt.whole(r["blocks_slower"])
    unit = str(r.get("block_unit") or "repeat")
    reps = (
        f"{'slower' if up else 'faster'} in {k} of {n} {unit}s"
        if n
        else "unpaired: the arms did not interleave"
    )
    thr = fmt.ms(r["threshold_ms"])
    if v == vd.SLOWER:
        return f"is slower: it adds {est} ms to {lbl} ({ci}; {fmt.pct(r['overhead_pct'])}; {reps})"
    if v == vd.FASTER:
        return f"is faster: it changes {lbl} by {est} ms ({ci}; {reps})"
    if v == vd.NO_CHANGE:
        return f"makes no meaningful change to {lbl}: {est} ms, and the {ci} lies inside ±{thr} ms"
    if v == vd.INCONCLUSIVE:
        need = fmt.num(r["repeats_needed"])
        more = "" if math.isnan(need) else f"; about {int(need)} {unit}s would detect {thr} ms"
        return (
            f"is inconclusive at {lbl}: {est} ms ({ci}, {reps}); this run could "
            f"detect {fmt.ms(r['mde_ms'])} ms with 80% power{more}"
        )
    if v == vd.TOO_FEW:
        return (
            f"changes {lbl} by {est} ms ({r['why']}: too few repeats for an interval; "
            "raise `repeats`)"
        )
    if v == vd.DESCRIPTIVE:
        return f"changes {lbl} by {est} ms, descriptive only: {r['why']}"
    return "has no valid trials to compare"


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
    return (
        f": {share:.1f}% of the {fmt.ms(an.slo.budget_ms)} ms budget; with it {hist.label(q)}"
        f" is {fmt.ms(r['value_ms'])} ms, {status} budget"
    )
