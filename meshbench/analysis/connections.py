"""What each trial paid in connections: new connections the generator opened and TLS
handshakes the sidecars accepted, per request sent (from the stored trial files), and
time to first byte for streamed responses (from the ``ttfb`` histograms).

Under churn, a mesh's cost moves from proxying each request to setting up connections;
these columns show how much of that reached the sidecars (a sidecar pools its upstream
connections, so an app's churn need not become mTLS handshakes).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from meshbench.analysis.stored_run import Run
from meshbench.config.dimensions import DIMS
from meshbench.errors import ResultsError

COLUMNS = ("generator_connections_per_request", "tls_handshakes_per_request")


def _json(run: Run, trial_id: str, name: str) -> dict[str, Any]:
    """A trial's stored JSON file, or {} where it is missing or unreadable."""
    try:
        value = run.trial_json(trial_id, name)
    except (ResultsError, OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _accepted_handshakes(stats: dict[str, Any]) -> float:
    """TLS handshakes the sidecars' listeners completed between the two snapshots (each
    handshake is counted once, on the accepting side); NaN without snapshots."""
    before, after = stats.get("before"), stats.get("after")
    if not isinstance(before, dict) or not isinstance(after, dict) or not after:
        return float("nan")
    total = 0
    for pod, counters in after.items():
        earlier = before.get(pod) or {}
        for name, value in counters.items():
            if name.startswith("listener.") and name.endswith(".ssl.handshake"):
                total += int(value) - int(earlier.get(name, 0))
    return float(total)


def connection_frame(run: Run) -> pd.DataFrame:
    """One row per included trial: mesh, the cell, and :data:`COLUMNS` (NaN when the
    trial's files do not say)."""
    t = run.trials[run.trials["included"]]
    records = []
    for row in t.to_dict("records"):
        sent = float(row.get("requests", 0) or 0) + float(row.get("warmup_requests", 0) or 0)
        trial_id = str(row["trial_id"])
        extra = _json(run, trial_id, "summary.json").get("extra") or {}
        opened = extra.get("connections_opened")
        handshakes = _accepted_handshakes(_json(run, trial_id, "sidecar_stats.json"))
        records.append(
            {
                "trial_id": row["trial_id"],
                "mesh": row["mesh"],
                **{d: row[d] for d in DIMS},
                COLUMNS[0]: float(opened) / sent if opened is not None and sent else np.nan,
                COLUMNS[1]: handshakes / sent if sent else np.nan,
            }
        )
    return pd.DataFrame.from_records(records, columns=["trial_id", "mesh", *DIMS, *COLUMNS])


def first_byte_frame(run: Run) -> pd.DataFrame:
    """Per mesh and cell, mean over included trials of time-to-first-byte and
    time-to-last-byte percentiles (ms), where responses were streamed (empty otherwise)."""
    p = run.percentiles
    if p.empty or "ttfb" not in set(p["tag"]):
        return pd.DataFrame()
    included = set(run.trials.loc[run.trials["included"], "trial_id"])
    p = p[p["trial_id"].isin(included) & p["tag"].isin(["ttfb", "latency"])]
    p = p[p["label"].isin(["p50", "p99"])]
    p = p[["trial_id", "tag", "label", "value_ms"]]
    keyed = p.merge(run.trials[["trial_id", "mesh", *DIMS]], on="trial_id")
    ttfb_trials = set(keyed.loc[keyed["tag"] == "ttfb", "trial_id"])
    keyed = keyed[keyed["trial_id"].isin(ttfb_trials)]
    table: pd.DataFrame = (
        keyed.groupby(["mesh", *DIMS, "tag", "label"], as_index=False)["value_ms"]
        .mean()
        .pivot_table(index=["mesh", *DIMS], columns=["tag", "label"], values="value_ms")
        .reset_index()
    )
    return table
