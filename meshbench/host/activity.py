"""The host is part of the instrument: what else used the CPUs while a trial ran.

Sampled before and after each trial (outside its measured window) from ``/proc/stat``
(per-CPU time, steal included: time a hypervisor gave our vCPU to someone else),
``/sys/.../cpufreq`` where readable, and psutil's per-process CPU times (every process
that is not meshbench or one of its children, kernel threads aside). Stored in each
trial's row so a slow trial can be explained, and flagged when it ran under heavy
steal or foreign load (``validity.flag_steal_pct`` / ``validity.flag_foreign_cpu``).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

STEAL_FIELD = 7
"""Index of ``steal`` among the per-CPU counters of /proc/stat (after the cpu name)."""
IDLE_FIELDS = (3, 4)
"""``idle`` and ``iowait``: time the CPU had nothing of anyone's to run."""
KERNEL_THREADS_PARENT = 2
"""kthreadd: kernel threads (softirq handling our own packets among them) are not
foreign load."""
TOP_FOREIGN = 3


def cpu_counters(stat: str) -> dict[int, tuple[int, ...]]:
    """Per-CPU counters (USER_HZ ticks) from the text of /proc/stat."""
    out = {}
    for line in stat.splitlines():
        name, _, rest = line.partition(" ")
        if name.startswith("cpu") and name[3:].isdigit():
            out[int(name[3:])] = tuple(int(x) for x in rest.split())
    return out


def _freq_mhz(cpu: int) -> float:
    path = Path(f"/sys/devices/system/cpu/cpu{cpu}/cpufreq/scaling_cur_freq")
    try:
        return int(path.read_text()) / 1000
    except (OSError, ValueError):
        return math.nan


@dataclass(frozen=True)
class HostSample:
    """One look at the host: CPU counters and the CPU time of every foreign process."""

    taken_at_s: float
    cpus: dict[int, tuple[int, ...]]
    foreign_cpu_s: dict[str, float] = field(default_factory=dict)
    """CPU seconds so far per foreign process, keyed ``"<pid> <name>"``."""


def sample(own_pid: int | None = None) -> HostSample:
    """The host now; processes in ``own_pid``'s tree (default: this one) are ours."""
    try:
        cpus = cpu_counters(Path("/proc/stat").read_text())
    except OSError:
        cpus = {}
    me = psutil.Process(own_pid or os.getpid())
    ours = {me.pid, *(c.pid for c in me.children(recursive=True))}
    foreign: dict[str, float] = {}
    for p in psutil.process_iter(["pid", "ppid", "name", "cpu_times"]):
        info = p.info
        if info["pid"] in ours or info["ppid"] in (0, KERNEL_THREADS_PARENT) or info["pid"] <= 2:
            continue
        t = info["cpu_times"]
        if t is not None:
            foreign[f"{info['pid']} {info['name']}"] = t.user + t.system
    return HostSample(time.monotonic(), cpus, foreign)


@dataclass(frozen=True)
class HostLoad:
    """What the host did between two samples, on the CPUs a trial was pinned to."""

    steal_pct: float
    """Largest share of time stolen by the hypervisor on any of the CPUs (%)."""
    busy_pct: float
    """Mean busy share of the CPUs, our own work included (%)."""
    foreign_cpu: float
    """Cores used by processes that are not meshbench's (any CPU)."""
    cpu_mhz: float
    """Mean current frequency of the CPUs at the end (NaN where not readable)."""
    foreign_top: list[tuple[str, float]]
    """The busiest foreign processes, ``(pid and name, cores)``."""

    def note(self, flag_steal_pct: float, flag_foreign_cpu: float) -> str:
        """Why this trial's host state deserves a flag ('' when it does not): a value
        beyond its limit, never one at it (the convention of every meshbench threshold).
        Values are shown as they are, so a flag never shows a value equal to its limit."""
        parts = []
        if self.steal_pct > flag_steal_pct:
            parts.append(f"CPU steal {self.steal_pct:g}% > {flag_steal_pct:g}%")
        if self.foreign_cpu > flag_foreign_cpu:
            top = ", ".join(f"{name} {cores:.2f}" for name, cores in self.foreign_top)
            parts.append(f"foreign load {self.foreign_cpu:g} cores > {flag_foreign_cpu:g} ({top})")
        return "; ".join(parts)


def cpu_shares(before: tuple[int, ...], after: tuple[int, ...]) -> tuple[float, float] | None:
    """(busy %, steal %) of one CPU between two of its /proc/stat counter tuples (None
    when no time passed)."""
    delta = [a - b for a, b in zip(after, before, strict=False)]
    total = sum(delta[:8])
    if total <= 0:
        return None
    steal = delta[STEAL_FIELD] / total * 100 if len(delta) > STEAL_FIELD else 0.0
    return (total - sum(delta[i] for i in IDLE_FIELDS)) / total * 100, steal


def load_between(before: HostSample, after: HostSample, cpus: Iterable[int]) -> HostLoad:
    """Steal, busy share and frequency of ``cpus``, and foreign CPU use, between samples."""
    wall = max(1e-9, after.taken_at_s - before.taken_at_s)
    steal, busy = [], []
    chosen = [c for c in cpus if c in before.cpus and c in after.cpus] or sorted(after.cpus)
    for c in chosen:
        shares = cpu_shares(before.cpus[c], after.cpus[c])
        if shares is not None:
            busy.append(shares[0])
            steal.append(shares[1])
    used = {
        k: (v - before.foreign_cpu_s.get(k, 0.0)) / wall for k, v in after.foreign_cpu_s.items()
    }
    used = {k: v for k, v in used.items() if v > 0}
    top = sorted(used.items(), key=lambda kv: -kv[1])[:TOP_FOREIGN]
    freqs = [f for f in (_freq_mhz(c) for c in chosen) if math.isfinite(f)]
    return HostLoad(
        steal_pct=max(steal, default=math.nan),
        busy_pct=sum(busy) / len(busy) if busy else math.nan,
        foreign_cpu=sum(used.values()),
        cpu_mhz=sum(freqs) / len(freqs) if freqs else math.nan,
        foreign_top=[(k, round(v, 3)) for k, v in top],
    )
