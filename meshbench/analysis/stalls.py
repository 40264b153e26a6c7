"""Trials whose tail rests on one event, and what the host and the pods did at that second.

A trial's p99 can come from one stall: one second of its measured phase whose p99 is many
times every other second's (a host hiccup, a garbage collection, a sidecar opening a
burst of TLS connections). Such a trial is pointed out, with the second's figures beside
the typical second's, from the trial's ``timeline.json`` (cumulative counters sampled at
each second boundary by the local platform): CPU busy and steal per CPU, cores per pod
process, connections and TLS handshakes per sidecar, TCP retransmissions and timeouts
per pod. A reader can then tell a host event (steal, a busy CPU with our processes
quiet) from a mesh behaviour (a sidecar's connections or handshakes jumping in that
second) or the network (a retransmission with every CPU quiet).

A second is a stall when its p99 is at least :data:`STALL_FACTOR` times the median p99 of
the trial's other measured seconds (and at least :data:`STALL_MIN_MS` above it, so a
microsecond-scale trial's noise is not called a stall).
"""

from __future__ import annotations

import itertools
import math
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from meshbench.analysis.stored_run import Run
from meshbench.errors import ResultsError
from meshbench.host.activity import cpu_shares
from meshbench.results import hlog

STALL_FACTOR = 10.0
"""A second whose p99 is this many times the trial's typical second's is a stall."""
STALL_MIN_MS = 1.0
"""... and at least this much above it (ms)."""
TIMELINE_FILE = "timeline.json"


@dataclass
class Stall:
    """One stalled second of one trial, and what happened in it (``context``)."""

    trial_id: str
    mesh: str
    second: int  # into the measured phase (0: its first second)
    utc: str
    p99_ms: float
    max_ms: float
    typical_p99_ms: float  # median p99 of the trial's other measured seconds
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def factor(self) -> float:
        return self.p99_ms / self.typical_p99_ms if self.typical_p99_ms > 0 else math.inf

    def sentence(self) -> str:
        """The stall in words, with what the host and the pods did in that second."""
        head = (
            f"{self.trial_id}: second {self.second} of the measured phase ({self.utc}) has "
            f"p99 {self.p99_ms:.2f} ms, {self.factor:.0f}x the trial's typical second "
            f"({self.typical_p99_ms:.2f} ms; max {self.max_ms:.1f} ms)"
        )
        said = describe(self.context)
        return f"{head}. At that second: {said}" if said else f"{head}; no timeline recorded"


def find_stalls(run: Run) -> list[Stall]:
    """Every included trial's stalled second (at most one per trial: its worst)."""
    iv = run.intervals
    if iv.empty:
        return []
    measured = iv[(iv["tag"] == "latency") & ~iv["warmup"].astype(bool)]
    included = set(run.trials.loc[run.trials["included"], "trial_id"])
    out: list[Stall] = []
    for trial_id, frame in measured.groupby("trial_id", sort=False):
        if trial_id not in included or len(frame) < 3:
            continue
        frame = frame.sort_values("start_s")
        p99 = frame["p99_ms"].tolist()
        worst = max(range(len(p99)), key=lambda i: p99[i] if math.isfinite(p99[i]) else -1)
        others = [v for i, v in enumerate(p99) if i != worst and math.isfinite(v)]
        if not others:
            continue
        typical = statistics.median(others)
        if not (p99[worst] >= STALL_FACTOR * typical and p99[worst] - typical >= STALL_MIN_MS):
            continue
        row = frame.iloc[worst]
        epoch = _log_start(run, str(trial_id)) + float(row["start_s"])
        out.append(
            Stall(
                trial_id=str(trial_id),
                mesh=str(row["mesh"]),
                second=worst,
                utc=datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S"),
                p99_ms=float(p99[worst]),
                max_ms=float(row["max_ms"]),
                typical_p99_ms=float(typical),
                context=context_at(run, str(trial_id), epoch, float(row["length_s"])),
            )
        )
    return out


def _log_start(run: Run, trial_id: str) -> float:
    rel = run.trials.loc[run.trials["trial_id"] == trial_id, "histogram"].iloc[0]
    return hlog.start_time(run.path / str(rel)) or 0.0


def context_at(run: Run, trial_id: str, start_s: float, length_s: float) -> dict[str, Any]:
    """What the trial's timeline says about ``[start_s, start_s + length_s)`` (epoch s),
    beside the median of its other seconds: ``{}`` when it has no timeline."""
    try:
        timeline = run.trial_json(trial_id, TIMELINE_FILE)
    except ResultsError:
        return {}
    samples = timeline.get("samples") or []
    seconds = [_second(a, b) for a, b in itertools.pairwise(samples)]
    if not seconds:
        return {}
    mid = start_s + length_s / 2
    at = min(
        range(len(seconds)),
        key=lambda i: abs((samples[i]["t"] + samples[i + 1]["t"]) / 2 - mid),
    )
    rest = [s for i, s in enumerate(seconds) if i != at]
    return {"at": seconds[at], "typical": _median_of(rest)}


def _second(a: dict[str, Any], b: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Rates between two consecutive samples: per CPU busy and steal (%), per process
    cores, per sidecar connections and handshakes opened."""
    wall = max(1e-9, float(b["t"]) - float(a["t"]))
    cpus: dict[str, float] = {}
    for cpu, after in (b.get("cpus") or {}).items():
        before = (a.get("cpus") or {}).get(cpu)
        shares = cpu_shares(tuple(before), tuple(after)) if before else None
        if shares is not None:
            cpus[f"cpu{cpu} busy %"], cpus[f"cpu{cpu} steal %"] = shares
    cores = {
        k: (v - a["cpu_s"][k]) / wall
        for k, v in (b.get("cpu_s") or {}).items()
        if k in (a.get("cpu_s") or {})
    }
    tcp: dict[str, float] = {}
    for pod, counters in (b.get("tcp") or {}).items():
        before_counters = (a.get("tcp") or {}).get(pod, {})
        for k, v in counters.items():
            tcp[f"{pod} {k}"] = float(v - before_counters.get(k, v))
    opened: dict[str, float] = {}
    for pod, counters in (b.get("sidecars") or {}).items():
        before_counters = (a.get("sidecars") or {}).get(pod, {})
        for kind, suffix in (("connections", "cx_total"), ("TLS handshakes", "ssl.handshake")):
            delta = sum(
                v - before_counters.get(k, v) for k, v in counters.items() if k.endswith(suffix)
            )
            opened[f"{pod} {kind}"] = float(delta)
    return {"cpus": cpus, "cores": cores, "sidecars": opened, "tcp": tcp}


def _median_of(seconds: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for part in ("cpus", "cores", "sidecars", "tcp"):
        keys = {k for s in seconds for k in s.get(part, {})}
        out[part] = {
            k: statistics.median([s[part][k] for s in seconds if k in s.get(part, {})])
            for k in sorted(keys)
        }
    return out


NOTABLE_CORES = 0.05
"""A process's cores in the stalled second are named when they differ from its typical
second's by more than this."""


def describe(context: dict[str, Any]) -> str:
    """The stalled second beside the typical one, in words ('' without a timeline)."""
    if not context:
        return ""
    at, typical = context["at"], context["typical"]
    parts = []
    cpus = at["cpus"]
    for key in sorted(k for k in cpus if k.endswith("busy %")):
        cpu = key.split()[0]
        steal = cpus.get(f"{cpu} steal %", 0.0)
        usual = typical["cpus"].get(key, math.nan)
        parts.append(f"{cpu} busy {cpus[key]:.0f} % (typically {usual:.0f} %), steal {steal:.1f} %")
    moved = [
        (k, v, typical["cores"].get(k, 0.0))
        for k, v in at["cores"].items()
        if abs(v - typical["cores"].get(k, 0.0)) > NOTABLE_CORES
    ]
    if moved:
        parts.append(
            "cores " + ", ".join(f"{k} {v:.2f} (typically {u:.2f})" for k, v, u in sorted(moved))
        )
    else:
        parts.append("no pod process used its CPU differently from a typical second")
    opened = [(k, v, typical["sidecars"].get(k, 0.0)) for k, v in at["sidecars"].items() if v]
    if opened:
        parts.append(
            "sidecars opened "
            + ", ".join(f"{k}: {v:.0f} (typically {u:.0f})" for k, v, u in sorted(opened))
        )
    elif at["sidecars"]:
        parts.append("no sidecar opened a connection or TLS handshake")
    tcp = at.get("tcp") or {}
    moved_tcp = [(k, v, typical.get("tcp", {}).get(k, 0.0)) for k, v in tcp.items() if v]
    if any(k.endswith(("RetransSegs", "TCPTimeouts", "TCPLossProbes")) for k, _, _ in moved_tcp):
        parts.append(
            "TCP " + ", ".join(f"{k}: {v:.0f} (typically {u:.0f})" for k, v, u in sorted(moved_tcp))
        )
    elif tcp:
        parts.append("no TCP retransmission or timeout in any pod")
    return "; ".join(parts)
