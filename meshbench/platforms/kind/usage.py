"""CPU and memory per container from the kubelet summary API (no metrics-server needed).

``GET /api/v1/nodes/<node>/proxy/stats/summary`` reports, per container, cumulative CPU
time (``usageCoreNanoSeconds``) and memory, each stamped with the time cAdvisor sampled it
(``cpu.time``). Those samples are cached and refreshed only every
:data:`KUBELET_SAMPLE_PERIOD_S` or so, so "now" is not when they were taken: a trial's
cores are Δ usage ÷ Δ *sample time*, per container, over samples taken inside the
measured phase (:class:`PhaseUsage`), never Δ usage ÷ the harness's own clock.
"""

from __future__ import annotations

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


def _epoch(stamp: object, default: float) -> float:
    if not isinstance(stamp, str) or not stamp:
        return default
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return default


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
                out[key] = Sample(
                    cpu_s=cpu_ns / 1e9,
                    at_s=_epoch(cpu.get("time"), read_at_s),
                    rss_bytes=None if rss is None else int(rss),
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
            inside = [s for s in series if self.start_s <= s.at_s <= self.end_s]
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
        note = "; ".join(notes)
        return snapshot(first, self.start_s, note), snapshot(last, self.end_s, note)
