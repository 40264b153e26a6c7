"""What ``meshbench gate`` prints for a CI log, and its JUnit XML for CI test reports.

One line per gated verdict (outcome first, so a log search for ``REGRESSION`` finds it),
the rows that were compared but not gated, and the outcome with its exit code last.
In JUnit each gated verdict is a test case: a regression is a ``failure``, an
inconclusive verdict ``skipped`` (neither passed nor failed; the exit code 3 says so to
the job), a pass has neither.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from meshbench.analysis import gate as gt
from meshbench.analysis import verdicts as vd
from meshbench.analysis.compare import LEVEL
from meshbench.config.dimensions import cell_of
from meshbench.report import fmt


def _where(g: gt.Gate, r: Mapping[Any, Any]) -> str:
    return f"{r['mesh']} {r['label']} at {cell_of(r).title(g.comparison.b.run.swept)}"


def row_detail(r: Mapping[Any, Any]) -> str:
    """One gated row's verdict with the figures it rests on."""
    v = str(r["verdict"])
    diff = f"{fmt.delta_ms(r['diff_ms'])} ms {fmt.ci(r['ci_low_ms'], r['ci_high_ms'])}"
    thr = f"{fmt.ms(r['threshold_ms'])} ms"
    if v in (vd.SLOWER, vd.FASTER):
        return f"{v}: {diff}, Holm p {fmt.fixed(r['p_holm'], 4)}, threshold {thr}"
    if v == vd.NO_CHANGE:
        return f"{v}: {diff} lies inside ±{thr}"
    if v == vd.INCONCLUSIVE:
        need = fmt.num(r["repeats_needed"])
        unit = str(r.get("block_unit") or "repeat")
        more = (
            f"; about {int(need)} {unit}s in each run would decide {thr}"
            if not math.isnan(need)
            else ""
        )
        if r["outcome"] == gt.PASS:
            return f"{v}, but no regression as large as {thr}: {diff} ends below +{thr}"
        return f"{v}: {diff}; these runs could detect {fmt.ms(r['mde_ms'])} ms (80% power){more}"
    if v == vd.TOO_FEW:
        return f"{v}: {r['why']}; raise `repeats`"
    return f"{v}: {r['why']}"


def _settings_line(g: gt.Gate) -> str:
    an = g.comparison.b
    spec = an.spec
    prim = ", ".join(f"p{q:g}" for q in an.primary)
    return (
        f"threshold: the larger of {fmt.ms(spec.min_effect_ms)} ms and "
        f"{spec.min_effect_pct:g}% of none; primary {prim}; {round(an.confidence * 100)}% "
        "intervals, Holm-adjusted across the gated meshes and cells"
    )


def gate_lines(g: gt.Gate, baseline_label: str | None = None) -> list[str]:
    """The CI-log summary of a gate, one line each."""
    a, b = g.comparison.a.run, g.comparison.b.run
    base = f"{baseline_label} ({a.run_id})" if baseline_label else a.run_id
    lines = [
        f"meshbench gate: candidate {b.run_id} against baseline {base}",
        _settings_line(g),
    ]
    lines += [f"forced: {m}" for m in g.forced]
    for r in g.rows.to_dict("records"):
        lines.append(f"{str(r['outcome']).upper():<12} {_where(g, r)}: {row_detail(r)}")
    for r in g.not_gated.to_dict("records"):
        what = "latency" if r["quantity"] == LEVEL else "overhead"
        lines.append(
            f"{'not gated':<12} {_where(g, r)} {what}: {fmt.delta_ms(r['diff_ms'])} ms "
            f"{fmt.ci(r['ci_low_ms'], r['ci_high_ms'])}, {r['verdict']}"
            + (f" ({r['why']})" if r["why"] else "")
        )
    lines += [f"note: {n}" for n in g.notes]
    lines += [f"warning: {w}" for w in g.comparison.a.warnings + g.comparison.b.warnings]
    if g.rows.empty:
        lines.append("nothing could be gated: no primary percentile got a verdict in both runs")
    lines.append(f"outcome: {g.outcome} (exit {g.exit_code})")
    return lines


def junit_xml(g: gt.Gate, baseline_label: str | None = None) -> str:
    """JUnit XML with one test case per gated verdict."""
    a, b = g.comparison.a.run, g.comparison.b.run
    rows = g.rows.to_dict("records")
    failures = sum(r["outcome"] == gt.REGRESSION for r in rows)
    skipped = sum(r["outcome"] == gt.INCONCLUSIVE for r in rows)
    counts = {"tests": str(len(rows)), "failures": str(failures), "errors": "0"}
    root = ET.Element("testsuites", {"name": "meshbench gate", **counts})
    suite = ET.SubElement(
        root,
        "testsuite",
        {
            "name": f"meshbench gate: {b.run_id} against {baseline_label or a.run_id}",
            "skipped": str(skipped),
            **counts,
        },
    )
    props = ET.SubElement(suite, "properties")
    for k, v in (
        ("baseline", baseline_label or a.run_id),
        ("baseline_run", str(a.path)),
        ("candidate_run", str(b.path)),
        ("outcome", g.outcome),
        ("exit_code", str(g.exit_code)),
        ("settings", _settings_line(g)),
    ):
        ET.SubElement(props, "property", name=k, value=v)
    for r in rows:
        case = ET.SubElement(
            suite, "testcase", classname=f"meshbench.gate.{r['mesh']}", name=_where(g, r)
        )
        detail = row_detail(r)
        if r["outcome"] == gt.REGRESSION:
            ET.SubElement(case, "failure", message=detail, type="regression").text = detail
        elif r["outcome"] == gt.INCONCLUSIVE:
            ET.SubElement(case, "skipped", message=detail)
        ET.SubElement(case, "system-out").text = detail
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
