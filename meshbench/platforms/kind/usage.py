"""CPU and memory per container from the kubelet summary API (no metrics-server needed).

``GET /api/v1/nodes/<node>/proxy/stats/summary`` reports, per container, cumulative CPU
time (``usageCoreNanoSeconds``) and memory, each stamped with the time cAdvisor sampled it
(``cpu.time``). Those samples are cached and refreshed only every
:data:`KUBELET_SAMPLE_PERIOD_S` or so, so "now" is not when they were taken: a trial's
cores are Δ usage ÷ Δ *sample time*, per container, over samples taken inside the
measured phase (:class:`PhaseUsage`), never Δ usage ÷ the harness's own clock.

The sample time is a ``metav1.Time``, serialised as RFC 3339 *without* fractions: the
kubelet truncates it to the whole second, so a stamp ``t`` means a time in ``[t, t + 1)``.
A sample counts as inside the phase only when all of that second is, and each
container's cores carry the bound that second leaves on Δ sample time
(:func:`cpu_bound`), recorded per container in ``usage.json`` (``cpu_rel_bound``).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from meshbench.platforms.base import UsageSnapshot

KUBELET_SAMPLE_PERIOD_S = 15.0
"""How stale a kubelet summary sample can be: cAdvisor housekeeping refreshes container
stats every 10 s by default and backs off to 15 s for idle containers."""

RoleOf = Callable[[str, str, str], "str | None"]
"""(namespace, pod, container) -> the role to sum it under, or None to leave it out."""


@dataclass(frozen=True)
class Sample:
    """One container's cumulative CPU (s) and memory (bytes) as the kubelet sampled it."""

    cpu_s: float
    at_s: float  # epoch seconds of the sample (the kubelet's cpu.time), or the read time
    rss_bytes: int | None = None
    resolution_s: float = 0.0
    """The stamp means a time in ``[at_s, at_s + resolution_s)`` (1 s: a kubelet stamp
    without fractions; 0: a read time, or a stamp with nanoseconds)."""


_FRACTION = re.compile(r"T\d\d:\d\d:\d\d\.(\d+)")


def _epoch(stamp: object, default: float) -> tuple[float, float]:
    """(epoch s, resolution s) of an RFC 3339 stamp; ``(default, 0)`` without one."""
    if not isinstance(stamp, str) or not stamp:
        return default, 0.0
    try:
        at = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return default, 0.0
    m = _FRACTION.search(stamp)
    return at, (10.0 ** -len(m.group(1)) if m else 1.0)


def cpu_bound(first: Sample, last: Sample) -> float:
    """The relative bound on cores from ``first`` to ``last`` that the stamps' resolution
    leaves: true Δt lies within ``Δt ± max(resolution)``, so cores are within
    ``± r / (Δt - r)`` of Δ CPU ÷ Δ stamp (0 for exact stamps)."""
    r = max(first.resolution_s, last.resolution_s)
    dt = last.at_s - first.at_s
    if r == 0:
        return 0.0
    return r / (dt - r) if dt > r else math.inf


def bound_at_duration(duration_s: float, resolution_s: float = 1.0) -> float:
    """The worst relative bound a measured phase of ``duration_s`` can leave: its first and
    last samples inside it at least one sample period plus one resolution from each end."""
    span = duration_s - 2 * (KUBELET_SAMPLE_PERIOD_S + resolution_s)
    return resolution_s / (span - resolution_s) if span > resolution_s else math.inf


def timing_statement(duration_s: float) -> str:
    """What a run's CPU figures on kind can be trusted to, for run.json and the report."""
    b = bound_at_duration(duration_s)
    worst = (
        "no bound (the phase is too short for two samples inside it)"
        if math.isinf(b)
        else f"at most ±{100 * b:.1f} %"
    )
    return (
        "kubelet summary, stamped to the whole second: cores within ±1 s ÷ each "
        f"container's sampled span, {worst} at {duration_s:g} s measured (each trial's own "
        "bound per container: usage.json cpu_rel_bound)"
    )


def samples_from_summaries(
    summaries: Iterable[dict[str, Any]], role_of: RoleOf, read_at_s: float
) -> dict[str, Sample]:
    """Every wanted container, keyed ``<pod>/<role>`` (``<pod>.<container>/<role>`` when a
    pod has two containers of one role). ``read_at_s`` stands in for a missing sample time.
    """
    out: dict[str, Sample] = {}
    for summary in summaries:
        for pod in summary.get("pods", []):
            ref = pod.get("podRef", {})
            ns, name = str(ref.get("namespace")), str(ref.get("name"))
            for c in pod.get("containers", []):
                container = str(c.get("name"))
                role = role_of(ns, name, container)
                if role is None:
                    continue
                cpu = c.get("cpu") or {}
                cpu_ns = cpu.get("usageCoreNanoSeconds")
                if cpu_ns is None:
                    continue
                mem = c.get("memory") or {}
                rss = mem.get("rssBytes", mem.get("workingSetBytes"))
                key = f"{name}/{role}"
                if key in out:
                    key = f"{name}.{container}/{role}"
                at_s, resolution_s = _epoch(cpu.get("time"), read_at_s)
                out[key] = Sample(
                    cpu_s=cpu_ns / 1e9,
                    at_s=at_s,
                    rss_bytes=None if rss is None else int(rss),
                    resolution_s=resolution_s,
                )
    return out


def snapshot(samples: dict[str, Sample], taken_at_s: float, note: str = "") -> UsageSnapshot:
    """A :class:`UsageSnapshot` of ``samples``, each key with its own sample time."""
    snap = UsageSnapshot(taken_at_s=taken_at_s, note=note)
    for key, s in samples.items():
        snap.cpu_s[key] = s.cpu_s
        snap.sampled_at_s[key] = s.at_s
        if s.rss_bytes is not None:
            snap.rss_bytes[key] = s.rss_bytes
    return snap


def snapshot_from_summaries(
    summaries: Iterable[dict[str, Any]],
    role_of: RoleOf,
    now: Callable[[], float] = time.time,
) -> UsageSnapshot:
    """Containers of the wanted pods, right now (each with the kubelet's sample time)."""
    t = now()
    return snapshot(samples_from_summaries(summaries, role_of, t), t)


@dataclass
class PhaseUsage:
    """CPU over one measured phase ``[start_s, end_s]`` (epoch s) from kubelet samples.

    Feed it every summary read during the trial (:meth:`add`). Per container it keeps the
    first sample taken at or after the start and the last taken at or before the end, so
    warm-up, start delay and teardown never dilute the figure. A container without two
    such samples (a phase shorter than the sample period) falls back to the pair of
    samples that brackets the phase most tightly, and the result says so in its note.
    """

    start_s: float
    end_s: float
    _seen: dict[str, dict[float, Sample]] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)
    """Why reads during the phase failed (recorded in the note; the trial goes on)."""

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def wants_read(self, now_s: float, poll_s: float) -> bool:
        """True near the boundaries, where a fresh sample matters (saves API reads)."""
        period = KUBELET_SAMPLE_PERIOD_S
        near_start = self.start_s - poll_s <= now_s <= self.start_s + period + poll_s
        near_end = self.end_s - period - poll_s <= now_s
        return near_start or near_end

    def add(self, samples: dict[str, Sample]) -> None:
        for key, s in samples.items():
            self._seen.setdefault(key, {})[s.at_s] = s

    def snapshots(self) -> tuple[UsageSnapshot, UsageSnapshot]:
        """(at the phase's start, at its end); ``after.note`` flags anything unreliable."""
        first: dict[str, Sample] = {}
        last: dict[str, Sample] = {}
        widened: list[str] = []
        missing: list[str] = []
        for key, by_time in sorted(self._seen.items()):
            series = [by_time[t] for t in sorted(by_time)]
            inside = [
                s
                for s in series
                if self.start_s <= s.at_s and s.at_s + s.resolution_s <= self.end_s
            ]
            if len(inside) >= 2:
                first[key], last[key] = inside[0], inside[-1]
                continue
            before = [s for s in series if s.at_s <= self.start_s]
            a = before[-1] if before else series[0]
            b = series[-1]
            if b.at_s > a.at_s:
                first[key], last[key] = a, b
                widened.append(key)
            else:
                missing.append(key)
        notes = []
        if self.duration_s < KUBELET_SAMPLE_PERIOD_S:
            notes.append(
                f"measured phase {self.duration_s:g} s is shorter than the kubelet's sample "
                f"period (~{KUBELET_SAMPLE_PERIOD_S:g} s): CPU figures are unreliable"
            )
        if widened:
            notes.append(
                "CPU of " + ", ".join(widened) + " from samples outside the measured phase "
                "(no two samples inside it)"
            )
        if missing:
            notes.append("no CPU for " + ", ".join(missing) + " (fewer than two samples)")
        if self.unreadable:
            notes.append(
                f"{len(self.unreadable)} read(s) of the kubelet summary failed during the "
                f"phase (last: {self.unreadable[-1]})"
            )
        note = "; ".join(notes)
        after = snapshot(last, self.end_s, note)
        after.cpu_rel_bound = {k: round(cpu_bound(first[k], last[k]), 5) for k in sorted(last)}
        return snapshot(first, self.start_s, note), after
