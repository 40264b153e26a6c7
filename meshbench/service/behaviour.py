"""What one sample service does for every request, whatever protocol it speaks: how long
it works, how many bytes it answers, in how many chunks, and which services it calls.

Pure and seeded, so every protocol's server (``http1``, ``h2c``, ``grpc``) behaves the
same and a test can check the distributions without a network.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from meshbench.config.protocols import Protocol
from meshbench.config.workload import PayloadMix, Server, Work

GRPC_METHOD = "/meshbench.Bench/Get"
"""The one unary method every gRPC service serves (request and response are raw bytes)."""
GRPC_CHANNEL_OPTIONS = (
    # one channel is one connection: never share a subchannel between our channels (the
    # churn and the connection counts depend on it)
    ("grpc.use_local_subchannel_pool", 1),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
)
"""Options of every gRPC channel and server of ours: the services', the generator's."""
GRPC_STREAM_METHOD = "/meshbench.Bench/Stream"
"""The server-streaming method: the response in ``stream_chunks`` messages."""
GRPC_HEALTH_METHOD = "/meshbench.Bench/Health"
"""Answered at once, never calling downstream (readiness)."""


@dataclass(frozen=True)
class ServiceConfig:
    """What one pod's service does for every request."""

    name: str
    port: int = 8080
    host: str = "0.0.0.0"
    protocol: Protocol = "http1"
    payload: PayloadMix = field(default_factory=lambda: PayloadMix.single(1024))
    work: Work = field(default_factory=Work)
    calls: tuple[str, ...] = field(default=())  # downstream base URLs, e.g. http://10.0.0.2:8080
    requests_per_connection: int = 0
    """Downstream calls per connection before a new one is opened; 0: keep-alive."""
    stream_chunks: int = 0
    """0: the body in one write; N: in N chunks (a streamed response)."""
    chunk_interval_ms: float = 0.0
    """Wait between two chunks of a streamed response."""
    downstream_timeout_s: float = 30.0
    seed: int = 0
    server: Server = "python"
    """What plays the service (:data:`meshbench.config.workload.SERVERS`)."""


class Behaviour:
    """A service's per-request draws (work time, response size), seeded per service."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self._rng = random.Random(f"{config.seed}:{config.name}")
        self._bodies: dict[int, bytes] = {}

    def work_s(self) -> float:
        return self.config.work.sample_s(self._rng)

    def body(self) -> bytes:
        size = self.config.payload.sample(self._rng)
        body = self._bodies.get(size)
        if body is None:
            body = self._bodies[size] = b"x" * size
        return body

    def chunks(self, body: bytes) -> list[bytes]:
        """The body cut into ``stream_chunks`` nearly equal pieces (one piece if 0)."""
        n = max(1, self.config.stream_chunks)
        step = max(1, math.ceil(len(body) / n))
        pieces = [body[i : i + step] for i in range(0, len(body), step)] or [b""]
        return pieces


def split_url(url: str) -> tuple[str, int]:
    """``http://host:port`` (the form every platform hands a service) -> (host, port)."""
    rest = url.split("://", 1)[-1].rstrip("/")
    host, _, port = rest.rpartition(":")
    return host.strip("[]"), int(port)


def all_ok(statuses: Sequence[int]) -> bool:
    return all(s == 200 for s in statuses)
