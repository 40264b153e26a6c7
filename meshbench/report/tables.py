"""The report's tables as plain strings, laid out by the console, Markdown and HTML writers."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from meshbench.analysis import histograms as hist
from meshbench.analysis import verdicts as vd
from meshbench.analysis.attribution import CONFIDENCE, captured_cell_title, depth_scaling
from meshbench.analysis.compare import Comparison
from meshbench.analysis.stalls import STALL_FACTOR, describe
from meshbench.analysis.summary import Analysis
from meshbench.config.dimensions import BASELINE, DIMS, VARIANT_DIMS, Cell, cell_of
from meshbench.report import fmt

VARIANT = list(VARIANT_DIMS)


@dataclass
class Table:
    """A titled table of strings; ``styles`` holds one CSS-ish class per row ('' = none)."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    styles: list[str] = field(default_factory=list)
    caption: str = ""

    def style(self, i: int) -> str:
        return self.styles[i] if i < len(self.styles) else ""


def _verdict_style(verdict: str) -> str:
    return {
        vd.SLOWER: "bad",
        vd.FASTER: "good",
        vd.NO_CHANGE: "good",
        vd.INCONCLUSIVE: "noise",
        vd.DESCRIPTIVE: "noise",
    }.get(verdict, "")


def verdict_detail(r: Mapping[Any, Any]) -> str:
    """The verdict word with what the reader needs to act on it: for ``inconclusive``
    the smallest effect this run could detect and the repeats that would resolve the
    threshold; for ``descriptive`` why there is no verdict."""
    v = str(r["verdict"])
    if v == vd.INCONCLUSIVE and not math.isnan(fmt.num(r.get("mde_ms"))):
        need = fmt.num(r.get("repeats_needed"))
        unit = str(r.get("block_unit") or "repeat")
        more = "" if math.isnan(need) else f", ~{int(need)} {unit}s for {fmt.ms(r['threshold_ms'])}"
        return f"{v}: MDE {fmt.ms(r.get('mde_ms'))}{more}"
    if v == vd.DESCRIPTIVE and r.get("primary"):
        return f"{v}: {r['why']}"
    return v


def method_caption(an: Analysis) -> str:
    """How the overhead's interval and verdict were computed, in one paragraph."""
    conf = round(an.confidence * 100)
    spec = an.spec
    prim = ", ".join(hist.label(q) for q in an.primary)
    return (
        f"Overhead = mean over repeats of (mesh - {BASELINE}) per-trial percentiles, each "
        f"repeat a block of back-to-back trials; {conf}% t interval from the two-way "
        "(arm + repeat) residual pooled over all arms, or from the paired contrasts when "
        f"this mesh is noisier. Verdicts on {prim} only (Holm-adjusted across meshes and "
        f"cells); meaningful = beyond max({fmt.ms(spec.min_effect_ms)} ms, "
        f"{spec.min_effect_pct:g}% of {BASELINE}). 'no meaningful change' = the interval "
        "lies inside that band; 'inconclusive' = neither; MDE = smallest effect this run "
        "detects with 80% power. The none/mesh columns are pooled percentiles (descriptive). "
        + interval_scope(an)
    )


def interval_scope(an: Analysis) -> str:
    """What the intervals cover, and what they do not."""
    deployments = int(fmt.num(an.run.scenario.get("deployments", 1)) or 1)
    if deployments > 1:
        covered = (
            f"trial-to-trial, repeat-to-repeat and deployment-to-deployment variation "
            f"({deployments} fresh deployments of every arm, each a block)"
        )
        missing = "run-to-run variation (another day, another host state) is not"
    else:
        covered = "trial-to-trial and repeat-to-repeat variation"
        missing = (
            "each arm was deployed once, so what is fixed for a deployment's life "
            "(where its processes landed, the host's state while it lived) is not, "
            "nor is run-to-run variation; `deployments: N` covers the former"
        )
    return f"Scope: the intervals cover {covered}; {missing}."


def latency_table(an: Analysis, cell: Cell) -> Table:
    """Pooled percentiles per mesh at one rate."""
    shown = list(hist.PERCENTILES)
    c = an.cells[cell.matches(an.cells)]
    rows = []
    for mesh in an.run.meshes:
        m = c[c["mesh"] == mesh]
        if m.empty:
            continue
        vals = {
            round(fmt.num(q), 6): fmt.num(v)
            for q, v in zip(m["percentile"], m["value_ms"], strict=True)
        }
        first = m.iloc[0]
        rows.append(
            [
                mesh,
                str(fmt.whole(first["trials_valid"])),
                str(fmt.whole(first["trials_invalid"])),
                f"{fmt.whole(first['requests']):,}",
                *[fmt.ms(vals.get(round(q, 6))) for q in shown],
            ]
        )
    return Table(
        title=f"{cell.title(an.run.swept)}: latency in ms (pooled over valid trials)",
        columns=["mesh", "valid", "invalid", "requests", *[hist.label(q) for q in shown]],
        rows=rows,
    )


def overhead_table(an: Analysis, cell: Cell) -> Table | None:
    """Mesh minus baseline at every percentile: pooled values (descriptive), the
    within-repeat overhead with its interval and MDE, and the verdict."""
    o = an.overhead
    if o.empty:
        return None
    o = o[cell.matches(o)]
    shown = set(an.percentiles)
    rows, styles = [], []
    for mesh in an.run.meshes:
        for r in o[(o["mesh"] == mesh) & o["percentile"].isin(shown)].to_dict("records"):
            rows.append(
                [
                    mesh,
                    str(r["label"]),
                    fmt.ms(r["baseline_ms"]),
                    fmt.ms(r["mesh_ms"]),
                    fmt.delta_ms(r["overhead_ms"]),
                    fmt.pct(r["overhead_pct"]),
                    fmt.ci(r["ci_low_ms"], r["ci_high_ms"]),
                    fmt.ms(r["mde_ms"]),
                    verdict_detail(r),
                ]
            )
            styles.append(_verdict_style(str(r["verdict"])))
    conf = round(an.confidence * 100)
    return Table(
        title=f"{cell.title(an.run.swept)}: overhead against {BASELINE}",
        columns=[
            "mesh",
            "pct",
            f"{BASELINE} ms",
            "mesh ms",
            "overhead ms",
            "overhead %",
            f"{conf}% CI ms",
            "MDE ms",
            "verdict",
        ],
        rows=rows,
        styles=styles,
        caption=method_caption(an),
    )


def slo_table(an: Analysis) -> Table | None:
    """Pass/fail per mesh and rate against the budget, overhead as % of the budget."""
    if an.slo is None or an.slo_verdicts is None:
        return None
    order = {m: i for i, m in enumerate(an.run.meshes)}
    v = an.slo_verdicts.sort_values(
        [*VARIANT, "rate_rps", "mesh"], key=lambda s: s.map(order) if s.name == "mesh" else s
    )
    rows, styles = [], []
    for r in v.to_dict("records"):
        rows.append(
            [
                str(r["mesh"]),
                cell_of(r).title(an.run.swept),
                fmt.ms(r["value_ms"]),
                "PASS" if r["passes"] else "FAIL",
                fmt.delta_ms(r["headroom_ms"]),
                fmt.delta_ms(r["overhead_ms"]) if r["mesh"] != BASELINE else "baseline",
                fmt.fixed(r["overhead_pct_of_budget"], 1, "%")
                if r["mesh"] != BASELINE
                else fmt.DASH,
            ]
        )
        styles.append("good" if r["passes"] else "bad")
    lbl = an.slo.label
    return Table(
        title=f"Latency budget: {lbl} <= {fmt.ms(an.slo.budget_ms)} ms",
        columns=[
            "mesh",
            "cell",
            f"{lbl} ms",
            "verdict",
            "headroom ms",
            f"overhead {lbl} ms",
            "overhead % of budget",
        ],
        rows=rows,
        styles=styles,
        caption="Overhead = pooled mesh minus none at the budget's percentile (its interval "
        "is in the overhead table).",
    )


def max_rate_table(an: Analysis) -> Table | None:
    """Per mesh: the highest tested rate within budget."""
    if an.max_rates is None or an.slo is None:
        return None
    rows = []
    swept_variant = [d for d in VARIANT if d in an.run.swept]
    for r in an.max_rates.to_dict("records"):
        ok = fmt.DASH if pd.isna(fmt.num(r["max_rate_rps"])) else fmt.rate(r["max_rate_rps"])
        fail = (
            fmt.DASH
            if pd.isna(fmt.num(r["first_failing_rate_rps"]))
            else fmt.rate(r["first_failing_rate_rps"])
        )
        rows.append([str(r["mesh"]), *[str(getattr(r, d)) for d in swept_variant], ok, fail])
    return Table(
        title=f"Highest tested rate within the budget ({an.slo.label} <= "
        f"{fmt.ms(an.slo.budget_ms)} ms)",
        columns=["mesh", *swept_variant, "highest passing rate", "first failing rate"],
        rows=rows,
        caption="The highest rate at which this and every lower tested rate pass.",
    )


def diagnostics_table(an: Analysis) -> Table:
    """Where the run's noise was: drift shared by a repeat, per-trial noise, the A/A arm."""
    rows, styles = [], []
    for r in an.diagnostics.to_dict("records"):
        aa = (
            f"{fmt.delta_ms(r['aa_ms'])} {fmt.ci(r['aa_ci_low_ms'], r['aa_ci_high_ms'])} "
            f"{r['aa_verdict']}"
            if r["aa_verdict"]
            else fmt.DASH
        )
        rows.append(
            [
                cell_of(r).title(an.run.swept),
                str(r["label"]),
                str(fmt.whole(r["complete_blocks"])),
                "yes" if r["interleaved"] else "NO",
                fmt.ms(r["drift_sd_ms"]),
                fmt.ms(r["residual_sd_ms"]),
                fmt.ms(r["contrast_sd_ms"]),
                aa,
            ]
        )
        styles.append(
            "" if r["interleaved"] and r["aa_verdict"] not in (vd.SLOWER, vd.FASTER) else "bad"
        )
    return Table(
        title="Design diagnostics (where the noise was)",
        columns=[
            "cell",
            "pct",
            "complete repeats",
            "interleaved",
            "drift sd ms",
            "per-trial sd ms",
            "contrast sd ms",
            "A/A (none-aa - none)",
        ],
        rows=rows,
        styles=styles,
        caption="From the two-way (arm + repeat) fit of per-trial percentiles: drift = what "
        "all arms of a repeat share (cancels in every contrast); per-trial sd = what "
        "is left (the intervals rest on it); contrast sd = the spread of one repeat's "
        "mesh - none. More repeats estimate these better; they do not grow with them.",
    )


def stall_table(an: Analysis) -> Table | None:
    """Trials whose tail rests on one second, with what the host and pods did in it."""
    if not an.stalls:
        return None
    rows = [
        [
            s.trial_id,
            f"{s.second} ({s.utc})",
            fmt.ms(s.p99_ms),
            fmt.ms(s.typical_p99_ms),
            f"{s.factor:.0f}x",
            describe(s.context) or "no timeline recorded",
        ]
        for s in an.stalls
    ]
    return Table(
        title="Stalls: trials whose tail rests on one second",
        columns=[
            "trial",
            "second (UTC)",
            "its p99 ms",
            "typical p99 ms",
            "ratio",
            "at that second",
        ],
        rows=rows,
        styles=["noise"] * len(rows),
        caption=f"A second of the measured phase whose p99 is at least {STALL_FACTOR:g}x the "
        "median of the trial's other seconds. Beside it, from the trial's timeline: each "
        "CPU's busy and steal share, the pod processes whose CPU differed from a typical "
        "second, and the connections and TLS handshakes each sidecar opened. Steal or a "
        "busy CPU with our processes quiet points at the host; a sidecar's connections or "
        "handshakes jumping points at the mesh.",
    )


def attribution_tables(an: Analysis) -> list[Table | None]:
    """Where the overhead goes (attribution mode): by kind of part and by part, the
    reconciliation with the generator, the observer effect, the sidecars' own clocks."""
    a = an.attribution
    if a is None or a.empty:
        return []
    conf = round(CONFIDENCE * 100)

    def ci(r: Mapping[Any, Any]) -> str:
        return fmt.ci(r["ci_low_ms"], r["ci_high_ms"])

    def title(r: Mapping[Any, Any]) -> str:
        return captured_cell_title(r, an.run.swept)

    groups = Table(
        title="Where the overhead goes: by kind of part (mean per request)",
        columns=["mesh", "cell", "part", "overhead ms", f"{conf}% CI ms", "share of overhead"],
        rows=[
            [
                str(r["mesh"]),
                title(r),
                f"{r['group']} ({r['parts']})",
                fmt.delta_ms(r["overhead_ms"]),
                ci(r),
                f"{r['share_pct']:.0f} %",
            ]
            for r in a.groups.to_dict("records")
        ],
        caption="Each request's round trip on the load pod's wire split at every pod's "
        "boundaries (kernel capture times): inbound and outbound = the sidecars' passes (both "
        "directions), apps = the services' own time, wire = the hops between pods. Means "
        "add up to the round trip; the overhead is mesh - none, paired per repeat, with a t "
        "interval over the repeats.",
    )
    parts = Table(
        title="Where the overhead goes: by part",
        columns=[
            "mesh",
            "cell",
            "part",
            "none ms",
            "mesh ms",
            "overhead ms",
            f"{conf}% CI ms",
            "share",
            "p50 overhead ms",
            "p99 overhead ms",
        ],
        rows=[
            [
                str(r["mesh"]),
                title(r),
                str(r["part"]),
                fmt.ms(r["none_ms"]),
                fmt.ms(r["mesh_ms"]),
                fmt.delta_ms(r["overhead_ms"]),
                ci(r),
                f"{r['share_pct']:.0f} %",
                fmt.delta_ms(r["p50_overhead_ms"]),
                fmt.delta_ms(r["p99_overhead_ms"]),
            ]
            for r in a.parts.to_dict("records")
        ],
        caption="Means are per request and add up; a part's p50 and p99 overheads are "
        "descriptive (percentiles of parts do not add up to the percentile of the whole).",
    )
    recon = Table(
        title="Do the parts add up to what the generator measured?",
        columns=[
            "mesh",
            "cell",
            "statistic",
            "generator overhead ms",
            "parts overhead ms",
            "residual ms",
            f"{conf}% CI ms",
            "residual %",
        ],
        rows=[
            [
                str(r["mesh"]),
                title(r),
                str(r["statistic"]),
                fmt.delta_ms(r["generator_ms"]),
                fmt.delta_ms(r["parts_ms"]),
                fmt.delta_ms(r["residual_ms"]),
                ci(r),
                f"{r['residual_pct']:+.0f} %",
            ]
            for r in a.reconciliation.to_dict("records")
        ],
        caption="The parts' sum is the round trip on the load pod's wire; the generator "
        "measures from each request's intended send to its last byte in the client. The "
        "residual is what the client side and the schedule add to the overhead (mean: exact "
        "sums; p50: the two distributions' medians).",
    )
    out: list[Table | None] = [groups, parts, recon]
    if not a.observer.empty:
        out.append(
            Table(
                title="What capturing changed (observer effect)",
                columns=[
                    "mesh",
                    "cell",
                    "statistic",
                    "overhead captured ms",
                    "overhead uncaptured ms",
                    "difference ms",
                    f"{conf}% CI ms",
                ],
                rows=[
                    [
                        str(r["mesh"]),
                        title(r),
                        str(r["statistic"]),
                        fmt.delta_ms(r["overhead_on_ms"]),
                        fmt.delta_ms(r["overhead_off_ms"]),
                        fmt.delta_ms(r["difference_ms"]),
                        ci(r),
                    ]
                    for r in a.observer.to_dict("records")
                ],
                caption="The generator's overhead (mesh - none) in trials with every pod "
                "captured minus in trials without, paired per repeat of the same run.",
            )
        )
    if not a.sidecar_clock.empty:
        out.append(
            Table(
                title="The sidecars' own clocks against the wire",
                columns=[
                    "mesh",
                    "cell",
                    "pod",
                    "sidecar pass",
                    "Envoy ms",
                    "wire ms",
                    "wire - Envoy ms",
                    f"{conf}% CI ms",
                ],
                rows=[
                    [
                        str(r["mesh"]),
                        title(r),
                        str(r["pod"]),
                        str(r["part"]),
                        fmt.ms(r["envoy_ms"]),
                        fmt.ms(r["wire_ms"]),
                        fmt.delta_ms(r["wire_minus_envoy_ms"]),
                        ci(r),
                    ]
                    for r in a.sidecar_clock.to_dict("records")
                ],
                caption="Envoy's access log (first byte in to first byte out, on the request "
                "and on the response) against the same requests' part on the kernel's "
                "capture clock; the difference is what Envoy's clock does not see (socket "
                "buffers, the redirect, scheduling before Envoy reads).",
            )
        )
    return out


def depth_table(an: Analysis) -> Table | None:
    """With a depth sweep: does the overhead grow by the hop, and linearly?"""
    d = depth_scaling(an.run)
    if d.empty:
        return None
    conf = round(CONFIDENCE * 100)
    return Table(
        title="Per hop: how the overhead grows with call depth",
        columns=[
            "mesh",
            "rate",
            "statistic",
            "depths",
            "per hop ms",
            f"{conf}% CI ms",
            "curvature ms/hop²",
            f"{conf}% CI",
        ],
        rows=[
            [
                str(r["mesh"]),
                f"{r['rate_rps']:g} rps",
                str(r["statistic"]),
                str(r["depths"]),
                fmt.delta_ms(r["slope_ms_per_hop"]),
                fmt.ci(r["slope_ci_low_ms"], r["slope_ci_high_ms"]),
                fmt.delta_ms(r["curvature_ms"]),
                fmt.ci(r["curvature_ci_low_ms"], r["curvature_ci_high_ms"]),
            ]
            for r in d.to_dict("records")
        ],
        caption="The generator's overhead (mesh - none) fitted against depth within each "
        "repeat: the slope is the cost of one more hop; the quadratic term is the departure "
        "from a straight line (an interval around 0: it compounds linearly, hop by hop).",
    )


def trials_table(an: Analysis) -> Table:
    """Every trial in execution order with its validity."""
    t = an.run.trials.sort_values("order")
    rows, styles = [], []
    for r in t.to_dict("records"):
        rows.append(
            [
                str(r["order"]),
                str(r["trial_id"]),
                str(r["mesh"]),
                cell_of(r).title(an.run.swept),
                str(r["repeat"]),
                "yes" if r["included"] else "no",
                str(r["invalid_reason"])
                or ("no histogram" if r["valid"] and not r["included"] else ""),
                fmt.ms(r["p50_ms"]),
                fmt.ms(r["p99_ms"]),
                fmt.ms(r["send_lag_p99_ms"]),
                fmt.fixed(r["achieved_rps"], 1),
                fmt.fixed(r["host_steal_pct"], 1, "%"),
                fmt.fixed(r["host_foreign_cpu"], 2),
                str(r["host_flag"]),
            ]
        )
        styles.append("" if r["included"] and not r["host_flag"] else "bad")
    return Table(
        title="Trials (execution order)",
        columns=[
            "#",
            "trial",
            "mesh",
            "cell",
            "repeat",
            "included",
            "reason",
            "p50 ms",
            "p99 ms",
            "send lag p99 ms",
            "achieved rps",
            "CPU steal",
            "foreign cores",
            "host flag",
        ],
        rows=rows,
        styles=styles,
    )


def cost_table(an: Analysis) -> Table | None:
    """Mean CPU (cores) and memory (MiB) per mesh, rate and component over valid trials."""
    c = an.run.cost
    c = c[c["included"]].dropna(subset=["cpu_cores", "rss_mib"], how="all")
    if c.empty:
        return None
    g = c.groupby(["mesh", *DIMS, "component"], as_index=False).agg(
        cpu=("cpu_cores", "mean"), rss=("rss_mib", "mean"), per_krps=("cpu_cores_per_krps", "mean")
    )
    order = {m: i for i, m in enumerate(an.run.meshes)}
    g = g.sort_values([*DIMS, "mesh"], key=lambda s: s.map(order) if s.name == "mesh" else s)
    rows = [
        [
            str(r["mesh"]),
            cell_of(r).title(an.run.swept),
            str(r["component"]),
            fmt.fixed(r["cpu"], 3),
            fmt.fixed(r["per_krps"], 3),
            fmt.fixed(r["rss"], 1),
        ]
        for r in g.to_dict("records")
    ]
    return Table(
        title="Resource cost (mean over valid trials)",
        columns=["mesh", "cell", "component", "CPU cores", "cores per 1000 rps", "RSS MiB"],
        rows=rows,
    )


def diff_table(cmp: Comparison, cell: Cell) -> Table:
    """B - A per mesh and percentile at one cell: overheads for meshes, latency for none."""
    d = cmp.diff[cell.matches(cmp.diff)]
    rows, styles = [], []
    for r in d.to_dict("records"):
        rows.append(
            [
                str(r["mesh"]),
                str(r["label"]),
                str(r["quantity"]),
                fmt.ms(r["a_ms"]),
                fmt.ms(r["b_ms"]),
                fmt.delta_ms(r["diff_ms"]),
                fmt.ci(r["ci_low_ms"], r["ci_high_ms"]),
                verdict_detail(r),
            ]
        )
        styles.append(_verdict_style(str(r["verdict"])))
    conf = round(fmt.num(cmp.diff.attrs.get("confidence", 0.95)) * 100)
    return Table(
        title=f"{cell.title(cmp.a.run.swept)}: B - A (A = {cmp.diff.attrs.get('a')}, B = "
        f"{cmp.diff.attrs.get('b')})",
        columns=[
            "mesh",
            "pct",
            "compared",
            "A ms",
            "B ms",
            "B - A ms",
            f"{conf}% CI ms",
            "verdict",
        ],
        rows=rows,
        styles=styles,
        caption="Meshes: each run's overhead against its own none, so drift between the runs "
        "cancels (difference of differences, standard errors in quadrature). none: "
        "its latency, per-trial percentiles compared unpaired. Same verdict words and "
        "threshold as the run reports, Holm-adjusted over the primary rows.",
    )
