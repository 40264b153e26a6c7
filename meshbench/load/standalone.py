"""``meshbench load URL``: the open-loop generator on its own, like wrk2 with Locust inside.

Targets are restricted to loopback and the benchmarking range 198.18.0.0/15 that
meshbench's own network namespaces use: a load test must never leave the machine.
"""

from __future__ import annotations

import ipaddress
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from meshbench.config.cpu_list import parse_cpu_list
from meshbench.config.scenario import ValiditySpec
from meshbench.errors import MeshbenchError
from meshbench.host.cores import choose
from meshbench.host.preflight import run_preflight
from meshbench.load.spec import HLOG_FILE, LoadRequest, LoadSummary
from meshbench.load.validity import format_kinds, load_reasons
from meshbench.load.workers import run_workers
from meshbench.results import hlog

ALLOWED_NETWORKS = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
    ipaddress.ip_network("198.18.0.0/15"),
)
PERCENTILES = (50.0, 90.0, 99.0, 99.9, 100.0)


def check_target(url: str) -> None:
    """Refuse any URL whose host is not loopback or in 198.18.0.0/15. Only IP literals
    and ``localhost`` are accepted: resolving a name would itself send a DNS query off
    the machine before the address could be checked."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise MeshbenchError(
            f"target {url!r} is not an http:// URL", fix="e.g. http://127.0.0.1:8080/"
        )
    name = parts.hostname
    try:
        addr = ipaddress.ip_address("127.0.0.1" if name == "localhost" else name)
    except ValueError:
        raise MeshbenchError(
            f"target host {name!r} is a name, not an address; meshbench load resolves no names",
            fix="use an IP address, e.g. http://127.0.0.1:8080/ or a pod's 198.18.x.y",
        ) from None
    if not any(addr in net for net in ALLOWED_NETWORKS):
        raise MeshbenchError(
            f"target {name} ({addr}) is outside loopback and 198.18.0.0/15",
            fix="meshbench load only targets this machine: loopback or meshbench's own pods",
        )


def check_request(req: LoadRequest, workers: int, cpus: str | None) -> None:
    """Refuse settings that cannot describe a load, naming the option, before anything
    is created or sent."""
    bad = []
    for option, value, ok in (
        ("--rate", req.rate_rps, math.isfinite(req.rate_rps) and req.rate_rps > 0),
        ("--duration", req.duration_s, math.isfinite(req.duration_s) and req.duration_s > 0),
        ("--warmup", req.warmup_s, math.isfinite(req.warmup_s) and req.warmup_s >= 0),
        ("--timeout", req.timeout_s, math.isfinite(req.timeout_s) and req.timeout_s > 0),
        ("--connections", req.connections, req.connections >= 1),
        ("--workers", workers, workers >= 1),
    ):
        if not ok:
            bad.append(f"{option} {value:g}")
    if bad:
        raise MeshbenchError(
            f"invalid load settings: {', '.join(bad)}",
            fix="rates, durations and timeouts must be finite and > 0 "
            "(warm-up >= 0); connections and workers at least 1",
        )
    if cpus is not None:
        try:
            listed = parse_cpu_list(cpus)
        except ValueError:
            listed = []
        if not listed or any(c >= (os.cpu_count() or 1) for c in listed):
            raise MeshbenchError(
                f"--cpus {cpus!r} is not a list of this host's CPUs",
                fix=f"e.g. 0 or 0-1 (this host has {os.cpu_count()} CPUs)",
            )


@dataclass
class LoadReport:
    """Percentiles (ms) of one standalone load run, corrected and uncorrected, and why
    its figures must not be trusted (empty: they can)."""

    summary: LoadSummary
    out_dir: Path
    corrected_ms: dict[float, float]
    service_ms: dict[float, float]
    send_lag_ms: dict[float, float]
    untrusted: list[str] = field(default_factory=list)


def measured_cpus(workers: int) -> tuple[str, list[str]]:
    """The generator's CPUs when ``--cpus`` is not given: the choice ``meshbench run``
    makes (:func:`meshbench.host.cores.choose` over a host preflight: CPU 0's core avoided where
    cores are spare, one quiet core per worker), and lines saying how they were chosen and
    what the preflight warns about them."""
    pre = run_preflight()
    pin = choose(pre, workers)
    lines = [f"CPUs: load {pin.load_cpus} ({pin.chosen_by})"]
    lines += [f"host: {w}" for w in pre.warnings(parse_cpu_list(pin.load_cpus))]
    return pin.load_cpus, lines


def load_url(
    req: LoadRequest, out_dir: Path, workers: int = 1, cpus: str | None = None
) -> LoadReport:
    """Run the generator against ``req.target_url`` and read back its percentiles."""
    check_target(req.target_url)
    check_request(req, workers, cpus)
    summary = run_workers(req, out_dir, workers, cpus)
    h = hlog.read_logs(out_dir / HLOG_FILE)
    lag = hlog.percentiles_ms(h["send_lag"], PERCENTILES)
    lag_p99 = lag[99.0] if math.isfinite(lag[99.0]) else 0.0
    return LoadReport(
        summary,
        out_dir,
        hlog.percentiles_ms(h["latency"], PERCENTILES),
        hlog.percentiles_ms(h["service"], PERCENTILES),
        lag,
        load_reasons(ValiditySpec(), req.rate_rps, summary, lag_p99),
    )


def format_report(r: LoadReport) -> str:
    """A small wrk2-like text table."""
    head = "".join(f"{'p' + format(p, 'g') if p < 100 else 'max':>10}" for p in PERCENTILES)
    s = r.summary
    lines = [
        f"{s.requests} requests, {s.errors} errors, "
        f"{s.achieved_rps:.0f} rps achieved, generator CPU {s.generator_cpu:.2f}"
        f" cores (busiest worker), stopped {s.how_stopped()}",
    ]
    if s.error_kinds:
        lines.append(f"errors by kind: {format_kinds(s.error_kinds)}")
    if s.warmup_errors:
        lines.append(
            f"warm-up errors (not counted above): {s.warmup_errors} "
            f"({format_kinds(s.warmup_error_kinds)})"
        )
    lines.append(f"{'(ms)':<28}{head}")
    for name, values in (
        ("latency (corrected)", r.corrected_ms),
        ("service time (uncorrected)", r.service_ms),
        ("send lag", r.send_lag_ms),
    ):
        lines.append(f"{name:<28}" + "".join(f"{values[p]:>10.3f}" for p in PERCENTILES))
    lines.append(f"histograms: {r.out_dir / HLOG_FILE}")
    if r.untrusted:
        lines.append("NOT A TRUSTWORTHY MEASUREMENT (the rules `meshbench run` applies):")
        lines += [f"  - {reason}" for reason in r.untrusted]
        if any(not why.startswith(("errors", "no request")) for why in r.untrusted):
            lines.append(
                "  fix: a lower --rate, more --workers or --connections, or other "
                "--cpus (send lag and CPU are the generator's; see each reason)"
            )
    else:
        lines.append("trustworthy: no validity rule fired (send lag, errors, rate, CPU, bounds)")
    return "\n".join(lines)
