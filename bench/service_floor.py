"""The sample service as part of the instrument: its CPU per request and its latency, alone
and as a three-hop chain, with no sidecars, against an instant Envoy as the floor.

    .venv/bin/python bench/service_floor.py [--rate 150] [--duration 10] [--repeats 3]
                                            [--max-rate]        (as root)

Prints, per target and rate: corrected latency p50 / p99 / p99.9 and the spread p99 - p50
(mean over repeats, with the range), and each service's CPU per request (ms of CPU per
measured request, from its process's CPU time over the measured phase). Targets:

- ``instant``: an Envoy answering every request itself (``direct_response``) on loopback,
  the fastest server at hand: the generator's and the kernel's own share;
- ``one``: one sample service (the backend, no downstream call) in a pod;
- ``chain``: frontend -> middle -> backend in three pods (the default topology);
- ``one-envoy``, ``chain-envoy``: the same with Envoy playing every service
  (``server: envoy``: a service whose own time is negligible).

The generator runs on CPU 0, the pods and the instant Envoy on CPU 1. ``--max-rate``
also finds, for the chain, the highest rate of a doubling-then-bisecting search whose
trial keeps send lag p99 below 1 ms with no error: what the pods' core sustains.
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from meshbench.config.protocols import PROTOCOLS, Protocol
from meshbench.config.scenario import Scenario, parse_scenario
from meshbench.config.topology import Topology, chain
from meshbench.load.spec import HLOG_FILE, LoadRequest, LoadSummary
from meshbench.load.workers import run_workers
from meshbench.platforms.local.deployment import LocalDeployment
from meshbench.platforms.local.platform import LocalPlatform
from meshbench.results import hlog
from meshbench.testing.targets import instant_envoy

LOAD_CPU = "0"
POD_CPU = "1"
CONNECTIONS = 16
WARMUP_S = 2.0
MAX_LAG_P99_MS = 1.0
"""A rate is sustained while the generator's send lag p99 stays below this."""


@dataclass
class Trial:
    """Figures of one load (ms; CPU in ms per measured request, per service)."""

    p50: float
    p99: float
    p999: float
    lag_p99: float
    errors: int
    achieved_rps: float
    cpu_ms: dict[str, float] = field(default_factory=dict)


def _figures(out: Path, s: LoadSummary) -> Trial:
    h = hlog.read_logs(out / HLOG_FILE)
    lat = hlog.percentiles_ms(h["latency"], (50, 99, 99.9))
    lag = hlog.percentiles_ms(h["send_lag"], (99,))
    return Trial(lat[50], lat[99], lat[99.9], lag[99], s.errors, s.achieved_rps)


def _request(url: str, rate: float, duration_s: float, protocol: Protocol) -> LoadRequest:
    return LoadRequest(
        target_url=url,
        rate_rps=rate,
        duration_s=duration_s,
        warmup_s=WARMUP_S,
        connections=CONNECTIONS,
        label="service-floor",
        protocol=protocol,
    )


def on_instant(rate: float, duration_s: float) -> Trial:
    with instant_envoy(18790, cpus=POD_CPU) as url, tempfile.TemporaryDirectory() as d:
        s = run_workers(_request(url, rate, duration_s, "http1"), Path(d), 1, LOAD_CPU)
        return _figures(Path(d), s)


def on_pods(dep: LocalDeployment, rate: float, duration_s: float) -> Trial:
    """One load from the load pod; CPU per request from the measured phase's usage."""
    with tempfile.TemporaryDirectory() as d:
        request = _request(dep.target_url(), rate, duration_s, dep.topology.protocol)
        s = dep.run_load(request, Path(d))
        t = _figures(Path(d), s)
    phase = dep.measured_usage()
    if phase is not None and s.requests:
        before, after = phase
        for key, cpu_s in after.cpu_s.items():
            if key.endswith("/app") and key in before.cpu_s:
                t.cpu_ms[key.split("/")[0]] = (cpu_s - before.cpu_s[key]) / s.requests * 1e3
    return t


def _scenario(topology: Topology) -> Scenario:
    return parse_scenario(
        {
            "name": "service-floor",
            "meshes": ["none"],
            "topology": topology.model_dump(mode="json"),
            "load": {"rates_rps": [100], "duration_s": 5},
            "local": {"load_cpus": LOAD_CPU, "pod_cpus": POD_CPU, "sidecar_cpus": POD_CPU},
        }
    )


def _summary(name: str, rate: float, trials: list[Trial]) -> str:
    def col(f: Callable[[Trial], float]) -> str:
        xs = [f(t) for t in trials]
        return f"{statistics.fmean(xs):7.3f} [{min(xs):.3f}-{max(xs):.3f}]"

    cpu = {k: statistics.fmean(t.cpu_ms.get(k, math.nan) for t in trials) for k in trials[0].cpu_ms}
    cpu_text = " ".join(f"{k} {v:.3f}" for k, v in cpu.items()) or "-"
    errors = sum(t.errors for t in trials)
    return (
        f"{name:<12}{rate:>6g}  p50 {col(lambda t: t.p50)}  p99 {col(lambda t: t.p99)}  "
        f"p99.9 {col(lambda t: t.p999)}  p99-p50 {col(lambda t: t.p99 - t.p50)}  "
        f"lag p99 {col(lambda t: t.lag_p99)}  errors {errors}  cpu/request ms: {cpu_text}"
    )


def max_rate(dep: LocalDeployment, duration_s: float, start_rps: float = 250.0) -> float:
    """Highest rate (doubling, then bisecting to 5 %) whose trial keeps send lag p99 below
    :data:`MAX_LAG_P99_MS` with no error and 95 % of the rate achieved."""

    def holds(rate: float) -> bool:
        t = on_pods(dep, rate, duration_s)
        ok = t.lag_p99 < MAX_LAG_P99_MS and not t.errors and t.achieved_rps >= 0.95 * rate
        print(f"  {rate:7.0f} rps: lag p99 {t.lag_p99:.2f} ms, errors {t.errors}, p99 {t.p99:.2f}")
        return ok

    lo, hi = 0.0, start_rps
    while holds(hi):
        lo, hi = hi, hi * 2
        if hi > 64_000:
            return lo
    while hi - lo > 0.05 * hi:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if holds(mid) else (lo, mid)
    return lo


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rate", type=float, action="append", help="rps (repeatable; default 150)")
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per trial")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument(
        "--targets", default="instant,one,chain", help="also one-envoy, chain-envoy (comma list)"
    )
    p.add_argument("--max-rate", action="store_true", help="also search the chain's max rate")
    p.add_argument("--protocol", choices=PROTOCOLS, default="http1")
    a = p.parse_args()
    rates = a.rate or [150.0]
    targets = a.targets.split(",")
    lines: list[str] = []
    for rate in rates:
        if "instant" in targets and a.protocol == "http1":  # the instant Envoy speaks HTTP/1.1
            lines.append(
                _summary("instant", rate, [on_instant(rate, a.duration) for _ in range(a.repeats)])
            )
    for name in targets:
        if name == "instant":
            continue
        base, _, server = name.partition("-")
        topology = chain(1 if base == "one" else 3).model_copy(update={"protocol": a.protocol})
        if server:  # e.g. chain-envoy: every service played by Envoy
            services = tuple(s.model_copy(update={"server": server}) for s in topology.services)
            topology = topology.model_copy(update={"services": services})
        platform = LocalPlatform(_scenario(topology))
        try:
            with platform.deploy("none", topology) as dep:
                assert isinstance(dep, LocalDeployment)
                for rate in rates:
                    trials = [on_pods(dep, rate, a.duration) for _ in range(a.repeats)]
                    lines.append(_summary(name, rate, trials))
                if base == "chain" and a.max_rate:
                    print(f"max rate of {name} (send lag p99 < 1 ms):")
                    lines.append(f"{name} max rate: {max_rate(dep, min(a.duration, 5.0)):.0f} rps")
        finally:
            platform.close()
    print(
        f"\n{a.repeats} trials of {a.duration:g} s each (mean [min-max]); generator CPU "
        f"{LOAD_CPU}, pods CPU {POD_CPU}"
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
