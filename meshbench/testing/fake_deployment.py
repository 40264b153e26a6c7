"""Stand-ins for a deployment in tests of the run loop: no sidecars to read, and a load
that writes what a generator would without sending anything."""

from __future__ import annotations

from pathlib import Path

from meshbench.load.spec import HLOG_FILE, LoadRequest, LoadSummary
from meshbench.platforms.base import Deployment, Proof, UsageSnapshot
from meshbench.results.hlog import LogWriter, new_histogram

SEND_LAG_US = 100
"""The send lag every canned request gets (µs)."""
LOG_START_S = 1.7e9
"""Epoch seconds the canned histogram log starts at."""


class NoSidecarDeployment(Deployment):
    """A deployment without sidecars: its proof, counters and usage are empty; subclasses
    give ``target_url`` and ``run_load``."""

    mesh = "none"

    def verify(self) -> Proof:
        return Proof(sidecars={}, crossed_sidecars=False)

    def sidecar_stats(self) -> dict[str, dict[str, int]]:
        return {}

    def usage(self) -> UsageSnapshot:
        return UsageSnapshot(taken_at_s=0.0)


def canned_load(request: LoadRequest, out_dir: Path) -> LoadSummary:
    """The files a generator leaves for ``request``, without sending: rate x duration
    requests, the i-th with latency and service time 1,000 + i µs and a send lag of
    :data:`SEND_LAG_US`, no errors, every request on time."""
    out_dir.mkdir(parents=True, exist_ok=True)
    n = int(request.rate_rps * request.duration_s)
    with (out_dir / HLOG_FILE).open("w") as f:
        writer = LogWriter(f, LOG_START_S, "canned")
        for tag in ("latency", "service", "send_lag"):
            h = new_histogram()
            for v in range(n):
                h.record_value(SEND_LAG_US if tag == "send_lag" else 1000 + v)
            writer.write(tag, LOG_START_S, LOG_START_S + request.duration_s, h)
    return LoadSummary(
        requests=n,
        errors=0,
        warmup_requests=0,
        warmup_errors=0,
        duration_s=request.duration_s,
        achieved_rps=request.rate_rps,
        generator_cpu=0.1,
        started_utc="2026-11-27T00:00:00+00:00",
    )
