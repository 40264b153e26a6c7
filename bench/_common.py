"""Shared pieces of the bench scripts: run the generator, run reference tools, parse them.

Bench scripts print figures; they never pass or fail. Run them on a quiet machine.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from meshbench.load.spec import HLOG_FILE, LoadRequest, LoadSummary
from meshbench.load.workers import run_workers
from meshbench.results import hlog


@dataclass
class Figures:
    """Latency figures of one measurement (ms); NaN where a tool does not report it."""

    tool: str
    rps: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    extra: str = ""

    def row(self) -> str:
        return (
            f"{self.tool:<34}{self.rps:>9.0f}{self.p50_ms:>9.3f}{self.p99_ms:>9.3f}"
            f"{self.mean_ms:>9.3f}{self.max_ms:>9.3f}  {self.extra}"
        )


HEADER = f"{'tool':<34}{'rps':>9}{'p50 ms':>9}{'p99 ms':>9}{'mean ms':>9}{'max ms':>9}"
NAN = float("nan")


def meshbench_load(
    url: str,
    rate: float,
    connections: int,
    duration_s: float,
    workers: int = 1,
    cpus: str | None = "0",
    prefix: tuple[str, ...] = (),
    tag: str = "service",
) -> tuple[Figures, LoadSummary, dict[str, float]]:
    """Run meshbench's generator; figures of ``tag`` plus the send-lag percentiles (ms)."""
    with tempfile.TemporaryDirectory(prefix="meshbench-bench-") as d:
        req = LoadRequest(
            target_url=url,
            rate_rps=rate,
            duration_s=duration_s,
            warmup_s=1.0,
            connections=connections,
        )
        s = run_workers(req, Path(d), workers, cpus, prefix=prefix)
        hists = hlog.read_logs(Path(d) / HLOG_FILE)
        h, lag = hists[tag], hists["send_lag"]
    fig = Figures(
        f"meshbench ({tag}, {workers}p)",
        s.achieved_rps,
        h.get_value_at_percentile(50) / 1e3,
        h.get_value_at_percentile(99) / 1e3,
        h.get_mean_value() / 1e3,
        h.get_max_value() / 1e3,
    )
    lags = {
        "p50": lag.get_value_at_percentile(50) / 1e3,
        "p99": lag.get_value_at_percentile(99) / 1e3,
    }
    return fig, s, lags


_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    m = re.match(r"([0-9.]+)(us|ms|s)", text.strip())
    return float(m.group(1)) * _UNIT[m.group(2)] if m else NAN


def wrk(
    url: str, connections: int, duration_s: float, prefix: tuple[str, ...] = (), cpus: str = "0"
) -> Figures:
    """wrk (closed loop: each connection sends when the previous reply arrives)."""
    out = subprocess.run(
        [
            *prefix,
            "taskset",
            "-c",
            cpus,
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{duration_s:g}s",
            "--latency",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    dist = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    lat = re.search(r"Latency\s+(\S+)\s+\S+\s+(\S+)", out)
    rps = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    return Figures(
        f"wrk -c{connections} (closed loop)",
        float(rps.group(1)) if rps else NAN,
        _ms(dist.get("50", "")),
        _ms(dist.get("99", "")),
        _ms(lat.group(1)) if lat else NAN,
        _ms(lat.group(2)) if lat else NAN,
    )


def h2load(
    url: str,
    connections: int,
    rps_per_conn: float,
    duration_s: float,
    prefix: tuple[str, ...] = (),
    cpus: str = "0",
) -> Figures:
    """h2load over HTTP/1.1, rate-limited per connection (reports min/max/mean, no percentiles)."""
    out = subprocess.run(
        [
            *prefix,
            "taskset",
            "-c",
            cpus,
            "h2load",
            "--h1",
            f"-c{connections}",
            f"--rps={rps_per_conn:g}",
            f"-D{duration_s:g}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    t = re.search(r"time for request:\s+(\S+)\s+(\S+)\s+(\S+)", out)
    rps = re.search(r"finished in .*?, ([0-9.]+) req/s", out)
    return Figures(
        f"h2load -c{connections} --rps {rps_per_conn:g}",
        float(rps.group(1)) if rps else NAN,
        NAN,
        NAN,
        _ms(t.group(3)) if t else NAN,
        _ms(t.group(2)) if t else NAN,
    )


def have(tool: str) -> bool:
    return shutil.which(tool) is not None
