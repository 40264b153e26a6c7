"""Where the overhead goes: each captured request's time split at every pod's boundaries,
per part and per arm, against ``none`` within each repeat, reconciled with what the
generator measured end to end, with what capturing itself changed, and with the
sidecars' own clocks.

For a request through the chain ``load -> s1 -> ... -> sN`` (:mod:`meshbench.wire.hops`
gives each pod's points), its parts are, per service pod (milliseconds):

- ``inbound``: the sidecar's pass on the way in and on the way out of the pod,
  ``(in_app - in_wire) + (in_wire' - in_app')`` (primes: response times); 0 without one;
- ``app``: the app's own time, before and after its downstream call (a leaf: all of it);
- ``outbound``: the sidecar's pass on the app's downstream call, both ways; 0 without one;
- ``wire``: the hop from the caller's pod to this one, both ways (veth and bridge).

They add up, request by request, to the round trip on the load pod's wire (``total``).
Means add up; percentiles do not, so the reconciliation and the shares use means, and a
part's p50 and p99 are shown beside them as descriptions. Overheads are paired per
repeat (each repeat is a block holding one trial of every arm), with a t interval on the
repeats (paired contrasts).
"""

from __future__ import annotations

import gzip
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from meshbench.analysis.stored_run import Run
from meshbench.config.dimensions import BASELINE, DIMS, cell_of
from meshbench.errors import ResultsError
from meshbench.results import store

CELL_COLS: tuple[str, ...] = tuple(d for d in DIMS if d != "capture")
"""The columns naming an attribution row's cell: the run's cell without ``capture``
(attribution compares captured trials; the observer effect pairs on with off)."""

HOPS_FILE = "hops.csv.gz"
SIDECAR_TIMES_FILE = "sidecar_times.csv.gz"
ATTRIBUTION_FILE = "attribution.json"
KINDS = ("inbound", "app", "outbound", "wire")
"""The kinds of part, in the order a request meets them inside a pod."""
GROUP_NAMES = {
    "inbound": "inbound sidecars",
    "outbound": "outbound sidecars",
    "app": "apps",
    "wire": "wire between pods",
}
CONFIDENCE = 0.95


def _read_gz_csv(
    run: Run, trial_id: str, name: str, dtype: dict[str, str] | None = None
) -> pd.DataFrame | None:
    path = run.path / store.TRIALS / trial_id / name
    try:
        data = gzip.decompress(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, EOFError) as e:
        raise ResultsError(f"{path}: unreadable ({e})") from None
    return pd.read_csv(io.BytesIO(data), dtype=dtype)


HOPS_DTYPE = {"request_ns": "Int64", "response_ns": "Int64"}
"""Epoch nanoseconds need 61 bits: read as integers, never as floats (which round them to
256 ns)."""


def _relative_ms(hops: pd.DataFrame) -> pd.DataFrame:
    """The times in ms since the first request captured (exact before the division)."""
    base = int(hops["request_ns"].min())
    out = hops.copy()
    for c in ("request_ns", "response_ns"):
        out[c] = (out[c].astype("Int64") - base).astype("float64") / 1e6
    return out


def request_parts(hops: pd.DataFrame, chain: list[str]) -> pd.DataFrame:
    """One row per request that crossed every point, one column per part (ms), plus
    ``total`` (the load pod's wire round trip) and ``request_id``. ``hops``: the stored
    long form (times in epoch ns, read as integers)."""
    if hops.empty:
        return pd.DataFrame()
    wide = _relative_ms(hops).pivot_table(
        index="request_id", columns=["pod", "point"], values=["request_ns", "response_ns"]
    )

    def col(kind: str, pod: str, point: str) -> pd.Series:
        key = (kind, pod, point)
        return wide[key] if key in wide.columns else pd.Series(np.nan, index=wide.index)

    def at(pod: str, point: str, fallback: str) -> tuple[pd.Series, pd.Series]:
        req, resp = col("request_ns", pod, point), col("response_ns", pod, point)
        if req.isna().all():  # no sidecar: the app sits on the wire itself
            req, resp = col("request_ns", pod, fallback), col("response_ns", pod, fallback)
        return req, resp

    load = chain[0]
    out = pd.DataFrame(index=wide.index)
    l_req, l_resp = col("request_ns", load, "out_wire"), col("response_ns", load, "out_wire")
    out["total"] = l_resp - l_req
    caller_req, caller_resp = l_req, l_resp
    caller = load
    services = chain[1:]
    for i, pod in enumerate(services):
        leaf = i == len(services) - 1
        iw_req, iw_resp = col("request_ns", pod, "in_wire"), col("response_ns", pod, "in_wire")
        ia_req, ia_resp = at(pod, "in_app", "in_wire")
        out[f"wire {caller} to {pod}"] = (iw_req - caller_req) + (caller_resp - iw_resp)
        out[f"{pod} inbound"] = (ia_req - iw_req) + (iw_resp - ia_resp)
        if leaf:
            out[f"{pod} app"] = ia_resp - ia_req
            break
        oa_req, oa_resp = at(pod, "out_app", "out_wire")
        ow_req, ow_resp = col("request_ns", pod, "out_wire"), col("response_ns", pod, "out_wire")
        out[f"{pod} app"] = (oa_req - ia_req) + (ia_resp - oa_resp)
        out[f"{pod} outbound"] = (ow_req - oa_req) + (oa_resp - ow_resp)
        caller, caller_req, caller_resp = pod, ow_req, ow_resp
    return out.dropna().reset_index()


def part_kind(part: str) -> str:
    """``inbound``, ``app``, ``outbound`` or ``wire`` (``total`` for the round trip)."""
    if part.startswith("wire "):
        return "wire"
    return part.rsplit(" ", 1)[-1]


@dataclass
class TrialParts:
    """One captured trial's parts: per part mean, p50 and p99 (ms), and how many of its
    measured requests were followed through every point."""

    trial_id: str
    followed: int
    requested: int
    means: dict[str, float]
    p50: dict[str, float]
    p99: dict[str, float]
    problems: list[str] = field(default_factory=list)


def trial_parts(run: Run, trial_id: str) -> TrialParts | None:
    """The parts of one trial (None: it was not captured)."""
    hops = _read_gz_csv(run, trial_id, HOPS_FILE, HOPS_DTYPE)
    if hops is None:
        return None
    meta = run.trial_json(trial_id, ATTRIBUTION_FILE)
    parts = request_parts(hops, list(meta["chain"]))
    row = run.trials.loc[run.trials["trial_id"] == trial_id].iloc[0]
    requested = int(row["requests"]) if pd.notna(row["requests"]) else 0
    cols = [c for c in parts.columns if c != "request_id"]
    return TrialParts(
        trial_id,
        len(parts),
        requested,
        {c: float(parts[c].mean()) for c in cols},
        {c: float(parts[c].quantile(0.5)) for c in cols},
        {c: float(parts[c].quantile(0.99)) for c in cols},
        list(meta.get("problems") or []),
    )


def _t_interval(diffs: list[float]) -> tuple[float, float, float]:
    """Mean of paired differences and its t interval (NaN bounds for fewer than 2)."""
    x = np.asarray(diffs, dtype=float)
    mean = float(x.mean()) if x.size else math.nan
    if x.size < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return mean, mean - half, mean + half


@dataclass
class Attribution:
    """Every table of "Where the overhead goes"."""

    parts: pd.DataFrame  # mesh, cell, part, kind, none_ms, mesh_ms, overhead (CI), share
    groups: pd.DataFrame  # the same per kind of part, summed over pods
    reconciliation: pd.DataFrame  # generator vs parts, per mesh, cell and statistic
    observer: pd.DataFrame  # overhead with capture on minus off
    sidecar_clock: pd.DataFrame  # Envoy's own residence vs the wire's split
    completeness: pd.DataFrame  # per trial: followed / requested
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.parts.empty


def _blocks(run: Run, capture: str) -> pd.DataFrame:
    t = run.trials
    return t[t["included"] & (t["capture"] == capture)]


def attribute_run(run: Run) -> Attribution:
    """Attribution tables of a run (empty tables when nothing was captured)."""
    captured = _blocks(run, "on")
    per_trial: dict[str, TrialParts] = {}
    for tid in captured["trial_id"]:
        tp = trial_parts(run, str(tid))
        if tp is not None and tp.followed:
            per_trial[str(tid)] = tp
    cell_cols = list(CELL_COLS)
    part_rows: list[dict[str, Any]] = []
    group_rows: list[dict[str, Any]] = []
    recon_rows: list[dict[str, Any]] = []
    sub = captured[captured["trial_id"].isin(per_trial)]
    for cell_key, cell in sub.groupby(cell_cols, dropna=False):
        cell_dict = dict(zip(cell_cols, cell_key, strict=True))
        base = cell[cell["mesh"] == BASELINE].set_index("repeat")
        for mesh, trials in cell[cell["mesh"] != BASELINE].groupby("mesh"):
            trials = trials.set_index("repeat")
            repeats = sorted(set(trials.index) & set(base.index))
            if not repeats:
                continue
            pairs = [
                (per_trial[str(base.loc[r, "trial_id"])], per_trial[str(trials.loc[r, "trial_id"])])
                for r in repeats
            ]
            parts = [p for p in pairs[0][1].means if p != "total"]
            total = _t_interval([m.means["total"] - b.means["total"] for b, m in pairs])
            for part in parts:
                est = _t_interval([m.means[part] - b.means[part] for b, m in pairs])
                part_rows.append(
                    {
                        "mesh": mesh,
                        **cell_dict,
                        "part": part,
                        "kind": part_kind(part),
                        "none_ms": float(np.mean([b.means[part] for b, _ in pairs])),
                        "mesh_ms": float(np.mean([m.means[part] for _, m in pairs])),
                        "overhead_ms": est[0],
                        "ci_low_ms": est[1],
                        "ci_high_ms": est[2],
                        "share_pct": 100 * est[0] / total[0] if total[0] else math.nan,
                        "p50_overhead_ms": float(
                            np.mean([m.p50[part] - b.p50[part] for b, m in pairs])
                        ),
                        "p99_overhead_ms": float(
                            np.mean([m.p99[part] - b.p99[part] for b, m in pairs])
                        ),
                        "repeats": len(pairs),
                    }
                )
            for kind in KINDS:
                names = [p for p in parts if part_kind(p) == kind]
                est = _t_interval([sum(m.means[p] - b.means[p] for p in names) for b, m in pairs])
                group_rows.append(
                    {
                        "mesh": mesh,
                        **cell_dict,
                        "kind": kind,
                        "group": GROUP_NAMES[kind],
                        "parts": len(names),
                        "overhead_ms": est[0],
                        "ci_low_ms": est[1],
                        "ci_high_ms": est[2],
                        "share_pct": 100 * est[0] / total[0] if total[0] else math.nan,
                    }
                )
            recon_rows += _reconcile(str(mesh), cell_dict, repeats, base, trials, pairs)
    return Attribution(
        parts=pd.DataFrame(part_rows),
        groups=pd.DataFrame(group_rows),
        reconciliation=pd.DataFrame(recon_rows),
        observer=observer_effect(run),
        sidecar_clock=sidecar_clock(run, per_trial),
        completeness=pd.DataFrame(
            [
                {
                    "trial_id": t.trial_id,
                    "followed": t.followed,
                    "requested": t.requested,
                    "followed_pct": 100 * t.followed / t.requested if t.requested else math.nan,
                    "problems": "; ".join(t.problems[:3]),
                }
                for t in per_trial.values()
            ]
        ),
    )


def _reconcile(
    mesh: str,
    cell: dict[str, Any],
    repeats: list[int],
    base: pd.DataFrame,
    trials: pd.DataFrame,
    pairs: list[tuple[TrialParts, TrialParts]],
) -> list[dict[str, Any]]:
    """The generator's end-to-end overhead against the parts' sum (which is the load
    pod's wire round trip, request by request): by mean, which adds up, and by p50."""
    rows = []
    for stat, column in (("mean", "mean_ms"), ("p50", "p50_ms")):
        gen = [_num(trials.loc[r, column]) - _num(base.loc[r, column]) for r in repeats]
        wire = [_total(m, stat) - _total(b, stat) for b, m in pairs]
        g, p = _t_interval(gen), _t_interval(wire)
        resid = _t_interval([a - b for a, b in zip(gen, wire, strict=True)])
        rows.append(
            {
                "mesh": mesh,
                **cell,
                "statistic": stat,
                "generator_ms": g[0],
                "parts_ms": p[0],
                "residual_ms": resid[0],
                "ci_low_ms": resid[1],
                "ci_high_ms": resid[2],
                "residual_pct": 100 * resid[0] / g[0] if g[0] else math.nan,
            }
        )
    return rows


def _num(value: Any) -> float:
    return float(value)


def _total(t: TrialParts, stat: str) -> float:
    """The wire round trip's mean or p50 in one trial."""
    return t.means["total"] if stat == "mean" else t.p50["total"]


def observer_effect(run: Run) -> pd.DataFrame:
    """Per mesh and cell: the end-to-end overhead (generator, p50 and mean) with capture
    on minus with capture off, paired per repeat; empty without capture-off trials."""
    t = run.trials[run.trials["included"]]
    if "off" not in set(t["capture"]) or "on" not in set(t["capture"]):
        return pd.DataFrame()
    cell_cols = list(CELL_COLS)
    rows = []
    for cell_key, cell in t.groupby(cell_cols, dropna=False):
        cell_dict = dict(zip(cell_cols, cell_key, strict=True))
        for mesh in sorted(set(cell["mesh"]) - {BASELINE}):
            for stat, column in (("p50", "p50_ms"), ("mean", "mean_ms")):
                on = _overheads(cell, mesh, "on", column)
                off = _overheads(cell, mesh, "off", column)
                common = sorted(set(on.index) & set(off.index))
                est = _t_interval([float(on[r] - off[r]) for r in common])
                rows.append(
                    {
                        "mesh": mesh,
                        **cell_dict,
                        "statistic": stat,
                        "overhead_on_ms": float(on.mean()),
                        "overhead_off_ms": float(off.mean()),
                        "difference_ms": est[0],
                        "ci_low_ms": est[1],
                        "ci_high_ms": est[2],
                        "repeats": len(common),
                    }
                )
    return pd.DataFrame(rows)


def _overheads(cell: pd.DataFrame, mesh: str, capture: str, column: str) -> pd.Series:
    """Per repeat: ``mesh`` minus ``none`` of ``column``, among ``capture`` trials."""
    c = cell[cell["capture"] == capture]
    m = c[c["mesh"] == mesh].set_index("repeat")[column]
    b = c[c["mesh"] == BASELINE].set_index("repeat")[column]
    return (m - b).dropna()


def sidecar_clock(run: Run, per_trial: dict[str, TrialParts]) -> pd.DataFrame:
    """Each sidecar listener's own time (Envoy's access log: request pass plus response
    pass) against the wire's split of the same requests (the pod's inbound or outbound
    part), averaged per trial; the difference with a t interval over trials."""
    rows = []
    cell_cols = list(CELL_COLS)
    Key = tuple[str, tuple[Any, ...], str, str]  # mesh, cell, pod, inbound/outbound
    diffs: dict[Key, list[float]] = {}
    envoy: dict[Key, list[float]] = {}
    wire: dict[Key, list[float]] = {}
    for tid in per_trial:
        log = _read_gz_csv(run, tid, SIDECAR_TIMES_FILE)
        hops = _read_gz_csv(run, tid, HOPS_FILE, HOPS_DTYPE)
        if log is None or hops is None or log.empty:
            continue
        meta = run.trial_json(tid, ATTRIBUTION_FILE)
        parts = request_parts(hops, list(meta["chain"])).set_index("request_id")
        row = run.trials.loc[run.trials["trial_id"] == tid].iloc[0]
        mesh, cell = str(row["mesh"]), tuple(row[c] for c in cell_cols)
        log = log[pd.to_numeric(log["request_us"], errors="coerce").notna()]
        log = log[pd.to_numeric(log["response_us"], errors="coerce").notna()]
        for (pod, listener), g in log.groupby(["pod", "listener"]):
            kind = "outbound" if str(listener).startswith("outbound") else "inbound"
            part = f"{pod} {kind}"
            if part not in parts.columns:
                continue
            g = g.set_index("request_id")
            both = g.index.intersection(parts.index)
            if not len(both):
                continue
            own = (
                pd.to_numeric(g.loc[both, "request_us"]) + pd.to_numeric(g.loc[both, "response_us"])
            ) / 1000
            key = (mesh, cell, str(pod), kind)
            envoy.setdefault(key, []).append(float(own.mean()))
            wire.setdefault(key, []).append(float(parts.loc[both, part].mean()))
            diffs.setdefault(key, []).append(float((parts.loc[both, part] - own).mean()))
    for key, d in sorted(diffs.items(), key=lambda kv: str(kv[0])):
        est = _t_interval(d)
        rows.append(
            {
                "mesh": key[0],
                **dict(zip(cell_cols, key[1], strict=True)),
                "pod": key[2],
                "part": key[3],
                "envoy_ms": float(np.mean(envoy[key])),
                "wire_ms": float(np.mean(wire[key])),
                "wire_minus_envoy_ms": est[0],
                "ci_low_ms": est[1],
                "ci_high_ms": est[2],
                "trials": len(d),
            }
        )
    return pd.DataFrame(rows)


def depth_scaling(run: Run) -> pd.DataFrame:
    """With ``sweep.depth``: per mesh, rate and statistic (p50, mean), the overhead's
    slope per hop (least squares over the depths, one slope per repeat, t interval over
    repeats) and its departure from a straight line (the quadratic coefficient, likewise;
    an interval around 0 means it grows linearly with depth)."""
    t = run.trials[run.trials["included"]]
    if t.empty or t["depth"].nunique() < 2:
        return pd.DataFrame()
    rows = []
    for (rate, capture), cell in t.groupby(["rate_rps", "capture"]):
        depths = sorted(set(cell["depth"]))
        for mesh in sorted(set(cell["mesh"]) - {BASELINE}):
            for stat, column in (("p50", "p50_ms"), ("mean", "mean_ms")):
                slopes, curves = [], []
                for _, rep in cell.groupby("repeat"):
                    m = rep[rep["mesh"] == mesh].set_index("depth")[column]
                    b = rep[rep["mesh"] == BASELINE].set_index("depth")[column]
                    over = (m - b).dropna()
                    if len(over) < 2:
                        continue
                    x = np.asarray(over.index, dtype=float)
                    y = over.to_numpy(dtype=float)
                    slopes.append(float(np.polyfit(x, y, 1)[0]))
                    if len(over) >= 3:
                        curves.append(float(np.polyfit(x, y, 2)[0]))
                slope, curve = _t_interval(slopes), _t_interval(curves)
                rows.append(
                    {
                        "mesh": mesh,
                        "rate_rps": rate,
                        "capture": capture,
                        "statistic": stat,
                        "depths": ",".join(str(d) for d in depths),
                        "slope_ms_per_hop": slope[0],
                        "slope_ci_low_ms": slope[1],
                        "slope_ci_high_ms": slope[2],
                        "curvature_ms": curve[0],
                        "curvature_ci_low_ms": curve[1],
                        "curvature_ci_high_ms": curve[2],
                        "repeats": len(slopes),
                    }
                )
    return pd.DataFrame(rows)


def captured_cell_title(row: Mapping[Any, Any], swept: Sequence[str]) -> str:
    """The name of an attribution row's cell (a record with the :data:`CELL_COLS`):
    ``"100 rps, grpc"``; capture is left out, every such row being of captured trials."""
    return cell_of({**row, "capture": "on"}).title([d for d in swept if d != "capture"])


def largest_part_sentences(a: Attribution, swept: Sequence[str]) -> list[str]:
    """One sentence per mesh and cell, e.g. ``envoy, 400 rps, http1: 62 % of the +1.22 ms
    mean overhead is in the inbound sidecars (+0.76 ms [+0.70, +0.82]); outbound sidecars
    +0.30 ...``. Shares are of that cell's summed means (means add up; percentiles do not)."""
    out = []
    for _, g in a.groups.groupby(["mesh", *CELL_COLS], dropna=False, sort=True):
        first_row = g.iloc[0]
        where = captured_cell_title(first_row.to_dict(), swept)
        total = float(g["overhead_ms"].sum())
        g = g.sort_values("overhead_ms", ascending=False)
        first = g.iloc[0]
        rest = "; ".join(
            f"{r['group']} {r['overhead_ms']:+.3f} ms "
            f"[{r['ci_low_ms']:+.3f}, {r['ci_high_ms']:+.3f}]"
            for r in g.iloc[1:].to_dict("records")
        )
        out.append(
            f"{first_row['mesh']}, {where}: {first['share_pct']:.0f} % of the {total:+.3f} ms "
            f"mean overhead is in the {first['group']} ({first['overhead_ms']:+.3f} ms "
            f"[{first['ci_low_ms']:+.3f}, {first['ci_high_ms']:+.3f}]); {rest}"
        )
    return out
