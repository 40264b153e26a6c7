"""Report tables for what the workload changes beside latency: connections and TLS
handshakes per request (churn, mTLS), and time to first byte of streamed responses."""

from __future__ import annotations

import math

import pandas as pd

from meshbench.analysis.connections import COLUMNS, connection_frame, first_byte_frame
from meshbench.analysis.summary import Analysis
from meshbench.config.dimensions import DIMS, cell_of
from meshbench.report import fmt
from meshbench.report.tables import Table


def _ordered(frame: pd.DataFrame, an: Analysis) -> pd.DataFrame:
    order = {m: i for i, m in enumerate(an.run.meshes)}
    return frame.sort_values([*DIMS, "mesh"], key=lambda s: s.map(order) if s.name == "mesh" else s)


def connection_table(an: Analysis) -> Table | None:
    """Mean new generator connections and accepted TLS handshakes per request, per mesh
    and cell; shown when the run churns connections or a sidecar did TLS."""
    f = connection_frame(an.run)
    if f.empty:
        return None
    churns = bool((f["requests_per_connection"] > 0).any())
    tls = bool((f[COLUMNS[1]].fillna(0) > 0).any())
    if not churns and not tls:
        return None
    g = _ordered(f.groupby(["mesh", *DIMS], as_index=False)[list(COLUMNS)].mean(), an)
    rows = [
        [
            str(r["mesh"]),
            cell_of(r).title(an.run.swept),
            fmt.fixed(r[COLUMNS[0]], 3),
            "-" if math.isnan(r[COLUMNS[1]]) else fmt.fixed(r[COLUMNS[1]], 3),
        ]
        for r in g.to_dict("records")
    ]
    return Table(
        title="Connections per request (mean over valid trials, warm-up included)",
        columns=["mesh", "cell", "new generator connections", "TLS handshakes (sidecars)"],
        rows=rows,
        caption="TLS handshakes are counted where a sidecar accepted them, so each is "
        "counted once; '-' where the arm has no sidecars. Sidecars pool their upstream "
        "connections: an app's churn reaches the mTLS hop only where the mesh does not pool.",
    )


def first_byte_table(an: Analysis) -> Table | None:
    """Time to first and to last byte (p50, p99), per mesh and cell, for streamed cells."""
    f = first_byte_frame(an.run)
    if f.empty:
        return None
    f.columns = [
        "_".join(c for c in col if c) if isinstance(col, tuple) else col for col in f.columns
    ]
    rows = [
        [
            str(r["mesh"]),
            cell_of(r).title(an.run.swept),
            *(
                fmt.ms(r.get(f"{tag}_{q}", math.nan))
                for tag in ("ttfb", "latency")
                for q in ("p50", "p99")
            ),
        ]
        for r in _ordered(f, an).to_dict("records")
    ]
    return Table(
        title="Streamed responses: time to first and to last byte (ms, mean over valid trials)",
        columns=[
            "mesh",
            "cell",
            "first byte p50",
            "first byte p99",
            "last byte p50",
            "last byte p99",
        ],
        rows=rows,
        caption="Both measured from the intended send time (corrected for coordinated omission).",
    )
