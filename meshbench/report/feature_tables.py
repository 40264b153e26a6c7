"""The report's table of what each sidecar feature costs (decomposition arms against the
arm they add one feature to, :mod:`meshbench.analysis.features`)."""

from __future__ import annotations

from meshbench.analysis.summary import Analysis
from meshbench.config.dimensions import cell_of
from meshbench.report import fmt
from meshbench.report.tables import Table, _verdict_style, verdict_detail


def feature_table(an: Analysis) -> Table | None:
    """Per feature arm, cell and primary percentile: the reference arm's and the feature
    arm's pooled values, the feature's marginal cost (what turning it off saves) with its
    interval and MDE, and the verdict."""
    f = an.features
    if f is None or f.empty:
        return None
    f = f[f["percentile"].isin(an.primary)]
    order = {m: i for i, m in enumerate(an.run.meshes)}
    f = f.assign(_order=f["mesh"].map(order)).sort_values(["_order", "percentile"])
    rows, styles = [], []
    for r in f.to_dict("records"):
        rows.append(
            [
                str(r["mesh"]),
                str(r["feature"]),
                cell_of(r).title(an.run.swept),
                str(r["label"]),
                fmt.ms(r["baseline_ms"]),
                fmt.ms(r["mesh_ms"]),
                fmt.delta_ms(r["overhead_ms"]),
                fmt.ci(r["ci_low_ms"], r["ci_high_ms"]),
                fmt.ms(r["mde_ms"]),
                verdict_detail(r),
            ]
        )
        styles.append(_verdict_style(str(r["verdict"])))
    conf = round(an.confidence * 100)
    refs = ", ".join(sorted(set(f["reference"])))
    return Table(
        title=f"What each sidecar feature costs (against {refs})",
        columns=[
            "arm",
            "feature",
            "cell",
            "pct",
            "reference ms",
            "arm ms",
            "cost ms",
            f"{conf}% CI ms",
            "MDE ms",
            "verdict",
        ],
        rows=rows,
        styles=styles,
        caption=(
            "Each envoy-mtls-<feature> arm adds one sidecar feature to its reference arm "
            "(same Envoy, same mTLS otherwise); a mesh profile adds that mesh's default "
            "settings as far as upstream Envoy reproduces them (its declaration cites the "
            "sources and lists what is not reproduced). Cost = mean over repeats of "
            "(arm - reference) per-trial "
            "percentiles, each repeat a block of back-to-back trials, so it is what turning "
            "the feature off would save here. The feature was proven on the path by Envoy's "
            "counters at every deployment (proof/<arm>.json). Verdicts as in the overhead "
            "tables, Holm-adjusted within this table."
        ),
    )
