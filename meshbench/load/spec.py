"""What a platform hands the load generator, and what the generator hands back.

Both sides are plain JSON so the generator can run in another process, another network
namespace or another pod (Kubernetes) and report through files.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from meshbench.config.protocols import Protocol
from meshbench.results import rundir

SUMMARY_FILE = "summary.json"
HLOG_FILE = "latency.hlog"
LOCUST_STATS_FILE = "locust_stats.json"

READY_MARK = "generator ready:"
"""The line a generator prints (into its ``generator.log``) as it starts sending."""

REQUEST_ID_HEADER = "x-request-id"


def request_id(prefix: str, worker_index: int, n: int, warmup: bool) -> str:
    """The ``x-request-id`` of a worker's n-th request (``LoadRequest.request_id_prefix``
    ``prefix``): ``t7m0-17`` in the measured phase, ``t7w0-3`` in the warm-up."""
    return f"{prefix}{'w' if warmup else 'm'}{worker_index}-{n}"


def measured_ids(prefix: str) -> str:
    """What the ids of a load's measured-phase requests start with."""
    return f"{prefix}m"


GENERATOR_GRACE_S = 5.0
"""Wall time a generator allows itself after the schedule and the last request's timeout,
before it stops by its time bound."""


@dataclass(frozen=True)
class LoadRequest:
    """One bounded open-loop load run against one URL."""

    target_url: str
    rate_rps: float
    duration_s: float
    warmup_s: float = 0.0
    connections: int = 16
    schedule: Literal["constant", "poisson"] = "constant"
    timeout_s: float = 5.0
    seed: int = 1
    label: str = "load"
    protocol: Protocol = "http1"
    requests_per_connection: int = 0  # 0: keep-alive; N: a new connection every N requests
    stream: bool = False  # the response is streamed: record time to first byte too
    max_requests: int | None = None  # hard bound; default rate * (warmup + duration) + slack
    request_id_prefix: str = ""  # name every request (x-request-id) with it: request_id()

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LoadRequest:
        return cls(**json.loads(text))

    def time_bound_s(self) -> float:
        """Seconds after the schedule's origin by which the generator stops by itself."""
        return self.warmup_s + self.duration_s + self.timeout_s + GENERATOR_GRACE_S

    def request_bound(self) -> int:
        """The most requests this run may send, whatever happens."""
        if self.max_requests is not None:
            return self.max_requests
        return int(self.rate_rps * (self.warmup_s + self.duration_s) * 1.1) + 10


@dataclass
class LoadSummary:
    """Counts and timings of one load run (latency percentiles live in the hlog)."""

    requests: int  # measured phase only
    errors: int
    warmup_requests: int
    warmup_errors: int
    duration_s: float  # wall time of the measured phase
    achieved_rps: float
    generator_cpu: float  # cores used by the generator process during the measured phase
    started_utc: str
    error_kinds: dict[str, int] = field(default_factory=dict)  # measured phase, by kind
    warmup_error_kinds: dict[str, int] = field(default_factory=dict)
    stopped_by: str = "schedule"  # schedule | request_bound | time_bound | killed
    dispatch_lag_p99_ms: float = 0.0  # the dispatcher's own lateness (timer, CPU), not pool waits
    generator_rss_mib: float = 0.0  # peak resident memory of the generator process
    extra: dict[str, Any] = field(default_factory=dict)
    killed_after_s: float = 0.0  # stopped_by "killed": the harness waited this long past the
    # generator's own time bound, then stopped it

    @classmethod
    def nothing(cls, started_utc: str) -> LoadSummary:
        """What a generator that left no summary (killed before it could write one) did,
        as far as the harness knows: nothing measured."""
        return cls(
            requests=0,
            errors=0,
            warmup_requests=0,
            warmup_errors=0,
            duration_s=0.0,
            achieved_rps=0.0,
            generator_cpu=0.0,
            started_utc=started_utc,
        )

    def how_stopped(self) -> str:
        """``"by its schedule"``, ``"by its time bound"``, ... ``"killed by the harness"``."""
        if self.stopped_by == "killed":
            return "killed by the harness"
        return f"by its {self.stopped_by.replace('_', ' ')}"

    @property
    def sent(self) -> int:
        """Every request the generator sent, warm-up included."""
        return self.requests + self.warmup_requests

    def write(self, out_dir: Path) -> None:
        """``summary.json`` in ``out_dir``, written atomically."""
        rundir.write_text(out_dir, SUMMARY_FILE, json.dumps(asdict(self), indent=2, sort_keys=True))

    @classmethod
    def read(cls, out_dir: Path) -> LoadSummary:
        return cls(**json.loads((out_dir / SUMMARY_FILE).read_text()))
