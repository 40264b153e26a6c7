"""What a platform hands the load generator, and what the generator hands back.

Both sides are plain JSON so the generator can run in another process, another network
namespace or another pod (Kubernetes) and report through files.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

SUMMARY_FILE = "summary.json"
HLOG_FILE = "latency.hlog"
LOCUST_STATS_FILE = "locust_stats.json"


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
    protocol: Literal["http1", "h2c", "grpc"] = "http1"
    requests_per_connection: int = 0  # 0: keep-alive; N: a new connection every N requests
    stream: bool = False  # the response is streamed: record time to first byte too
    max_requests: int | None = None  # hard bound; default rate * (warmup + duration) + slack

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LoadRequest:
        return cls(**json.loads(text))

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
    stopped_by: str = "schedule"  # schedule | request_bound | time_bound
    dispatch_lag_p99_ms: float = 0.0  # the dispatcher's own lateness (timer, CPU), not pool waits
    generator_rss_mib: float = 0.0  # peak resident memory of the generator process
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def sent(self) -> int:
        """Every request the generator sent, warm-up included."""
        return self.requests + self.warmup_requests

    def write(self, out_dir: Path) -> None:
        (out_dir / SUMMARY_FILE).write_text(json.dumps(asdict(self), indent=2, sort_keys=True))

    @classmethod
    def read(cls, out_dir: Path) -> LoadSummary:
        return cls(**json.loads((out_dir / SUMMARY_FILE).read_text()))
