"""Before a number is trusted, the host: cores, SMT, isolation, governor, IRQs, load, jitter.

pyperf's ``system show`` is the model: a benchmark is only as good as the CPUs it runs
on. :func:`read_facts` reads ``/proc`` and ``/sys`` under a root (``/`` normally; a
fixture directory in tests), where device interrupts land included (:func:`read_irqs`),
:func:`busy_between` turns two ``/proc/stat`` texts into a busy share per CPU, and
:func:`probe_jitter` measures how late each CPU wakes a sleeping process (one pinned
probe process per CPU, all at once, for ``JITTER_PROBE_S``). :meth:`Preflight.warnings`
turns them into warnings that say what to change.

Run before every local run (recorded in ``run.json`` under ``preflight``) and by
``meshbench doctor``.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from meshbench.config.cpu_list import parse_cpu_list
from meshbench.host.activity import cpu_counters, cpu_shares

JITTER_PROBE_S = 1.2
"""How long each CPU is probed: long enough to catch a stall that recurs once a second
(seen on CPU 0 of a 16-core VM: 20-65 ms about once a second)."""
JITTER_SLEEP_S = 0.001
"""The probe's sleep; its wake-up overshoot is the jitter."""
JITTER_WARN_P99_US = 500.0
"""A CPU whose wake-up overshoot p99 exceeds this adds that much to the generator's send
lag or a pod's latency: warned about, ranked last by the core choice. (A quiet 16-core
VM: 105-132 µs on every CPU.)"""
JITTER_WARN_MAX_US = 10_000.0
"""A single wake-up later than this is a stall (the 20-65 ms ones seen on CPU 0 of a
16-core VM), not noise: warned about. (Quiet 16-core VM: max 0.1-3.1 ms.)"""
BUSY_WARN_PCT = 10.0
"""A CPU busier than this before the run starts is shared with other work."""
BUSY_SAMPLE_S = 0.5
"""Window over which each CPU's busy share is measured before a run."""
IRQ_WARN_SHARE = 0.5
"""The pinned CPUs handling more than this share of the host's device interrupts (counted
since boot in ``/proc/interrupts``) are interrupted by work that is not the benchmark's,
while other CPUs could take it: warned about, with the IRQs to move."""
IRQ_HEAVY_FACTOR = 2.0
"""A CPU that handled more than this many times an even share of the device interrupts
since boot (a NIC queue's or a disk's line lands there) is ranked after every other by
the automatic core choice (:func:`meshbench.host.cores.choose`)."""
IRQ_NAMED = 3
"""How many of the busiest IRQs a warning names."""


@dataclass(frozen=True)
class CpuFacts:
    """What ``/sys`` says about one CPU."""

    cpu: int
    core: str
    """Physical core: ``"<package>/<core_id>"``; SMT siblings share it."""
    siblings: tuple[int, ...]
    governor: str | None
    """cpufreq scaling governor (None where the host exposes no cpufreq, e.g. most VMs)."""


@dataclass(frozen=True)
class Irq:
    """One device interrupt line as ``/proc/interrupts`` and ``/proc/irq/<n>`` show it."""

    irq: str
    device: str
    """The rest of its ``/proc/interrupts`` line: chip, hardware IRQ, device name(s)."""
    per_cpu: dict[int, int]
    """Interrupts handled by each online CPU since boot."""
    affinity: tuple[int, ...]
    """``smp_affinity_list``: the CPUs it may be delivered to (empty: unreadable)."""

    @property
    def total(self) -> int:
        return sum(self.per_cpu.values())


@dataclass(frozen=True)
class HostFacts:
    """The CPUs this process may use and what they are."""

    cpus: tuple[CpuFacts, ...]
    isolated: tuple[int, ...]
    """``isolcpus=`` / cpuset-isolated CPUs (kept free of ordinary tasks by the kernel)."""
    smt_active: bool | None
    irqs: tuple[Irq, ...] = ()
    """Device interrupts (numbered IRQs; not the per-CPU timer, IPI and NMI lines)."""
    irq_cpus: tuple[int, ...] = ()
    """The online CPUs ``/proc/interrupts`` counts for (those an IRQ could be moved to)."""

    @property
    def cpu_ids(self) -> list[int]:
        return [c.cpu for c in self.cpus]

    def cores(self) -> dict[str, list[int]]:
        """Physical core -> its CPUs (those allowed), in CPU order."""
        out: dict[str, list[int]] = {}
        for c in self.cpus:
            out.setdefault(c.core, []).append(c.cpu)
        return out


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def read_facts(root: Path = Path("/"), allowed: set[int] | None = None) -> HostFacts:
    """Cores, siblings, isolation and governors of the online CPUs under ``root``
    (restricted to ``allowed``, by default this process's affinity when ``root`` is /)."""
    sysfs = root / "sys/devices/system/cpu"
    online = parse_cpu_list(_read(sysfs / "online") or "0")
    if allowed is None and root == Path("/"):
        allowed = set(os.sched_getaffinity(0))
    cpus = []
    for cpu in online:
        if allowed is not None and cpu not in allowed:
            continue
        topo = sysfs / f"cpu{cpu}" / "topology"
        package = _read(topo / "physical_package_id") or "0"
        core_id = _read(topo / "core_id") or str(cpu)
        siblings = tuple(parse_cpu_list(_read(topo / "thread_siblings_list") or str(cpu)))
        cpus.append(
            CpuFacts(
                cpu,
                f"{package}/{core_id}",
                siblings,
                _read(sysfs / f"cpu{cpu}" / "cpufreq" / "scaling_governor"),
            )
        )
    smt = _read(sysfs / "smt" / "active")
    irq_cpus, irqs = read_irqs(root)
    isolated = _read(sysfs / "isolated")
    return HostFacts(
        tuple(cpus),
        tuple(parse_cpu_list(isolated)) if isolated else (),
        None if smt is None else smt == "1",
        tuple(irqs),
        tuple(irq_cpus),
    )


def read_irqs(root: Path = Path("/")) -> tuple[list[int], list[Irq]]:
    """The CPUs ``/proc/interrupts`` counts for and every numbered (device) IRQ in it, with
    its ``/proc/irq/<n>/smp_affinity_list``; nothing where the file is unreadable."""
    text = _read(root / "proc/interrupts")
    if not text:
        return [], []
    lines = text.splitlines()
    cpus = [int(h[3:]) for h in lines[0].split() if h.startswith("CPU") and h[3:].isdigit()]
    irqs = []
    for line in lines[1:]:
        head, _, rest = line.partition(":")
        if not head.strip().isdigit():  # LOC, RES, CAL, NMI...: every CPU's own
            continue
        fields = rest.split()
        counts = [int(f) for f in fields[: len(cpus)] if f.isdigit()]
        if len(counts) != len(cpus):
            continue
        n = head.strip()
        affinity = _read(root / "proc/irq" / n / "smp_affinity_list")
        irqs.append(
            Irq(
                n,
                " ".join(fields[len(cpus) :]),
                dict(zip(cpus, counts, strict=True)),
                tuple(parse_cpu_list(affinity)) if affinity else (),
            )
        )
    return cpus, irqs


def busy_between(stat_before: str, stat_after: str) -> dict[int, float]:
    """Busy share (%) of each CPU between two texts of ``/proc/stat``."""

    a, b = cpu_counters(stat_before), cpu_counters(stat_after)
    busy = {}
    for cpu in sorted(a.keys() & b.keys()):
        shares = cpu_shares(a[cpu], b[cpu])
        if shares is not None:
            busy[cpu] = round(shares[0], 1)
    return busy


def cpu_ranges(cpus: list[int]) -> str:
    """``[1, 2, 3, 5]`` -> ``"1-3,5"`` (the kernel's CPU list syntax)."""
    spans: list[list[int]] = []
    for c in sorted(set(cpus)):
        if spans and spans[-1][1] == c - 1:
            spans[-1][1] = c
        else:
            spans.append([c, c])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


@dataclass(frozen=True)
class Jitter:
    """Wake-up overshoot of a 1 ms sleep on one CPU (µs)."""

    p50_us: float
    p99_us: float
    max_us: float
    wakeups: int


_PROBE = """
import json, os, sys, time
cpu, seconds, sleep_s = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
os.sched_setaffinity(0, {cpu})
late = []
end = time.perf_counter() + seconds
while time.perf_counter() < end:
    t0 = time.perf_counter()
    time.sleep(sleep_s)
    late.append((time.perf_counter() - t0 - sleep_s) * 1e6)
late.sort()
print(json.dumps([late[len(late) // 2], late[int(len(late) * 0.99)], late[-1], len(late)]))
"""


def probe_jitter(cpus: list[int], seconds: float = JITTER_PROBE_S) -> dict[int, Jitter]:
    """Every CPU's wake-up jitter, probed at once (one pinned process per CPU)."""
    procs = {
        cpu: subprocess.Popen(
            [sys.executable, "-I", "-c", _PROBE, str(cpu), str(seconds), str(JITTER_SLEEP_S)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for cpu in cpus
    }
    out = {}
    for cpu, p in procs.items():
        try:
            text, _ = p.communicate(timeout=seconds + 30)
            p50, p99, worst, n = json.loads(text)
        except (subprocess.TimeoutExpired, ValueError):
            p.kill()
            p.wait()
            continue
        out[cpu] = Jitter(round(p50, 1), round(p99, 1), round(worst, 1), int(n))
    return out


@dataclass
class Preflight:
    """The host as found before a run, and what to change about it."""

    facts: HostFacts
    busy_pct: dict[int, float] = field(default_factory=dict)
    jitter: dict[int, Jitter] = field(default_factory=dict)

    def warnings(self, used: list[int] | None = None) -> list[str]:
        """What makes figures from this host (from ``used`` CPUs, default all) less
        trustworthy, each with the change that would help."""
        cpus = used if used is not None else self.facts.cpu_ids
        out = []
        for cpu in cpus:
            busy = self.busy_pct.get(cpu)
            if busy is not None and busy > BUSY_WARN_PCT:
                out.append(
                    f"CPU {cpu} was {busy:.0f}% busy before the run: stop what runs "
                    "there, or pin meshbench elsewhere (local.load_cpus / pod_cpus)"
                )
            j = self.jitter.get(cpu)
            if j is not None and (j.p99_us > JITTER_WARN_P99_US or j.max_us > JITTER_WARN_MAX_US):
                out.append(
                    f"CPU {cpu} wakes late (1 ms sleep: p99 +{j.p99_us:.0f} µs, "
                    f"max +{j.max_us / 1000:.1f} ms): interrupts or housekeeping land "
                    "there; use other CPUs, or move IRQs away (irqbalance, "
                    "/proc/irq/*/smp_affinity)"
                )
        governors = {c.governor for c in self.facts.cpus if c.cpu in cpus and c.governor}
        if governors - {"performance"}:
            out.append(
                f"frequency governor {', '.join(sorted(governors))}: the clock moves "
                "with load; set 'performance' (cpupower frequency-set -g performance)"
            )
        shared = [
            c
            for c in self.facts.cpus
            if c.cpu in cpus and any(s in cpus and s != c.cpu for s in c.siblings)
        ]
        if shared:
            out.append(
                f"SMT siblings both in use ({', '.join(str(c.cpu) for c in shared)}): "
                "they share one core's execution units; pin to one thread per core"
            )
        irq = self.irq_warning(cpus)
        if irq:
            out.append(irq)
        return out

    def irq_share(self, cpus: list[int]) -> float:
        """Share of the device interrupts since boot that ``cpus`` handled (NaN: none)."""
        total = sum(i.total for i in self.facts.irqs)
        if not total:
            return math.nan
        return sum(i.per_cpu.get(c, 0) for i in self.facts.irqs for c in cpus) / total

    def irq_heavy(self, cpu: int) -> bool:
        """Whether ``cpu`` handled more than :data:`IRQ_HEAVY_FACTOR` times an even share
        of the device interrupts since boot (False where none were counted)."""
        share = self.irq_share([cpu])
        return bool(self.facts.irq_cpus) and share > IRQ_HEAVY_FACTOR / len(self.facts.irq_cpus)

    def irq_warning(self, cpus: list[int]) -> str | None:
        """A warning when ``cpus`` take most device interrupts while other CPUs could."""
        others = [c for c in self.facts.irq_cpus if c not in cpus]
        share = self.irq_share(cpus)
        if not others or not share > IRQ_WARN_SHARE:
            return None
        here = {i.irq: sum(i.per_cpu.get(c, 0) for c in cpus) for i in self.facts.irqs}
        on_ours = sorted((i for i in self.facts.irqs if here[i.irq]), key=lambda i: -here[i.irq])
        named = ", ".join(
            f"{i.irq} ({i.device.split()[-1] if i.device else '?'})" for i in on_ours[:IRQ_NAMED]
        )
        ours = cpu_ranges(cpus)
        return (
            f"CPUs {ours} handled {share:.0%} of the device interrupts since boot (busiest "
            f"there: IRQ {named}): they preempt the benchmark; move them, e.g. echo "
            f"{cpu_ranges(others)} > /proc/irq/<n>/smp_affinity_list (or "
            f"IRQBALANCE_BANNED_CPULIST={ours} for irqbalance), or pin meshbench elsewhere "
            "(local.load_cpus / pod_cpus)"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "cpus": [asdict(c) for c in self.facts.cpus],
            "isolated": list(self.facts.isolated),
            "smt_active": self.facts.smt_active,
            "busy_pct": {str(k): v for k, v in self.busy_pct.items()},
            "jitter_us": {str(k): asdict(v) for k, v in self.jitter.items()},
            "device_irqs_per_cpu": {
                str(c): sum(i.per_cpu.get(c, 0) for i in self.facts.irqs)
                for c in self.facts.irq_cpus
            },
            "irqs": [
                {"irq": i.irq, "device": i.device, "total": i.total, "affinity": list(i.affinity)}
                for i in self.facts.irqs
            ],
            "warnings": self.warnings(),
        }


def run_preflight(jitter_s: float = JITTER_PROBE_S, busy_s: float = BUSY_SAMPLE_S) -> Preflight:
    """This host now: facts, busy share over ``busy_s`` and jitter over ``jitter_s``
    (the two windows overlap: the probes sleep almost all the time)."""
    facts = read_facts()
    before = Path("/proc/stat").read_text()
    started = time.monotonic()
    jitter = probe_jitter(facts.cpu_ids, jitter_s) if jitter_s > 0 else {}
    time.sleep(max(0.0, busy_s - (time.monotonic() - started)))
    return Preflight(facts, busy_between(before, Path("/proc/stat").read_text()), jitter)


def format_preflight(p: Preflight) -> str:
    """A table per CPU and the warnings, for ``meshbench doctor``."""
    lines = [
        f"{'cpu':>4} {'core':>6} {'siblings':>9} {'isolated':>9} {'governor':>12} "
        f"{'busy %':>7} {'wake p99 µs':>12} {'max µs':>8} {'dev IRQ %':>9}"
    ]
    for c in p.facts.cpus:
        j = p.jitter.get(c.cpu)
        lines.append(
            f"{c.cpu:>4} {c.core:>6} {','.join(map(str, c.siblings)):>9} "
            f"{'yes' if c.cpu in p.facts.isolated else 'no':>9} {c.governor or '-':>12} "
            f"{p.busy_pct.get(c.cpu, float('nan')):>7.1f} "
            f"{j.p99_us if j else float('nan'):>12.0f} {j.max_us if j else float('nan'):>8.0f} "
            f"{p.irq_share([c.cpu]) * 100:>9.0f}"
        )
    warnings = p.warnings()
    lines += [f"warning: {w}" for w in warnings] or ["no warnings: the host looks quiet"]
    return "\n".join(lines)
