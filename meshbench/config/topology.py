"""The sample application's shape: which service calls which, with what payload and work.

One topology drives both platforms (local network namespaces and Kubernetes manifests),
so the two benchmark exactly the same thing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from meshbench.config.protocols import PROTOCOLS, Protocol
from meshbench.config.workload import PayloadMix, Server, Work, WorkDistribution

MAX_SERVICES = 64
"""Most services a topology may have: each is a pod (a namespace, an app and a sidecar)."""

MAX_CALLS = 16
"""Most downstream services one service may call per request (its fan-out)."""

MAX_REQUESTS_PER_ENTRY_REQUEST = 1024
"""Most requests one entry request may cause across the graph. A diamond's paths
multiply (a 30-layer diamond is 2**30 requests), so this bound is checked on the count."""

ServiceName = Annotated[str, StringConstraints(pattern=r"^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$")]
"""A DNS-1123 label (so it is also a valid Kubernetes Service name), at most 32 chars."""


class PayloadShare(BaseModel):
    """One response size of a payload mix and its weight."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bytes: int = Field(ge=0, le=16 * 1024 * 1024)
    weight: float = Field(gt=0, le=1e6)


class ServiceSpec(BaseModel):
    """One service of the sample application."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ServiceName
    calls: tuple[ServiceName, ...] = Field(
        default=(),
        max_length=MAX_CALLS,
        description="downstream services called for every request, in parallel",
    )
    payload_bytes: int = Field(default=1024, ge=0, le=16 * 1024 * 1024)
    payload_mix: tuple[PayloadShare, ...] | None = Field(
        default=None,
        min_length=1,
        max_length=16,
        description="response sizes drawn by weight for every request; replaces payload_bytes",
    )
    work_ms: float = Field(
        default=0.0,
        ge=0,
        le=10_000,
        description="simulated work (asynchronous wait) per request; the median when "
        "work_distribution is not constant",
    )
    work_distribution: WorkDistribution = Field(
        default="constant",
        description="constant: always work_ms; exponential: median work_ms; lognormal: "
        "median work_ms and p99 work_p99_ms",
    )
    work_p99_ms: float | None = Field(
        default=None, gt=0, le=60_000, description="p99 of a lognormal work time"
    )
    stream_chunks: int = Field(
        default=0,
        ge=0,
        le=10_000,
        description="0: the response in one piece; N: streamed in N chunks (gRPC: N messages)",
    )
    chunk_interval_ms: float = Field(
        default=0.0, ge=0, le=10_000, description="wait between two chunks of a stream"
    )
    server: Server = Field(
        default="python",
        description="python: meshbench's sample service; envoy: Envoy plays the service, "
        "so its own time is negligible (a fast service): it answers its payload from its "
        "route table, or forwards to its one downstream service (no work time, one payload "
        "size, no streaming; http1 or h2c)",
    )

    @model_validator(mode="after")
    def _check_behaviour(self) -> ServiceSpec:
        if self.work_distribution == "lognormal":
            if self.work_p99_ms is None or not self.work_p99_ms > self.work_ms > 0:
                raise ValueError(
                    f"service {self.name!r}: a lognormal work time needs work_ms > 0 (the "
                    f"median) and work_p99_ms above it; got work_ms={self.work_ms}, "
                    f"work_p99_ms={self.work_p99_ms}"
                )
        elif self.work_p99_ms is not None:
            raise ValueError(
                f"service {self.name!r}: work_p99_ms applies to work_distribution: lognormal "
                f"only (an exponential's p99 follows from its median)"
            )
        if self.chunk_interval_ms and not self.stream_chunks:
            raise ValueError(f"service {self.name!r}: chunk_interval_ms needs stream_chunks > 0")
        if self.server == "envoy":
            self._check_envoy_can_play_it()
        return self

    def _check_envoy_can_play_it(self) -> None:
        """Envoy answers from its route table or forwards: no behaviour of its own."""
        cannot = [
            why
            for why, bad in (
                (f"calls {len(self.calls)} services (at most 1)", len(self.calls) > 1),
                (f"work_ms {self.work_ms:g} (must be 0)", self.work_ms > 0),
                ("has a payload_mix (one payload_bytes only)", self.payload_mix is not None),
                (f"streams in {self.stream_chunks} chunks (must be 0)", self.stream_chunks > 0),
            )
            if bad
        ]
        if cannot:
            raise ValueError(
                f"service {self.name!r}: server: envoy cannot play a service that "
                f"{'; '.join(cannot)}; fix: change those or use server: python"
            )

    def work(self) -> Work:
        """The work-time distribution this service draws from."""
        return Work(self.work_distribution, self.work_ms, self.work_p99_ms)

    def payload(self) -> PayloadMix:
        """The response sizes this service draws from."""
        if self.payload_mix is None:
            return PayloadMix.single(self.payload_bytes)
        return PayloadMix(
            tuple(p.bytes for p in self.payload_mix), tuple(p.weight for p in self.payload_mix)
        )


class Topology(BaseModel):
    """A call graph of services with one entry point; it must be acyclic."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    entry: ServiceName = "frontend"
    port: int = Field(default=8080, ge=1024, le=65535, description="port every service listens on")
    protocol: Protocol = Field(
        default="http1",
        description="what the apps and the load generator speak: http1 (HTTP/1.1), h2c "
        "(HTTP/2 cleartext, prior knowledge) or grpc (unary calls; server streaming when "
        "the entry streams)",
    )
    requests_per_connection: int = Field(
        default=0,
        ge=0,
        le=1_000_000,
        description="connection churn of the generator and every service-to-service call: "
        "0 keeps connections alive, N opens a new connection every N requests",
    )
    services: tuple[ServiceSpec, ...] = Field(min_length=1, max_length=MAX_SERVICES)

    @model_validator(mode="after")
    def _check_graph(self) -> Topology:
        names = [s.name for s in self.services]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"service names must be unique; repeated: {', '.join(dupes)}")
        known = set(names)
        if self.entry not in known:
            raise ValueError(f"entry {self.entry!r} is not one of the services {sorted(known)}")
        for s in self.services:
            unknown = [c for c in s.calls if c not in known]
            if unknown:
                raise ValueError(
                    f"service {s.name!r} calls unknown service(s) {unknown}; known: {sorted(known)}"
                )
        self._check_acyclic()
        if PROTOCOLS[self.protocol].grpc:
            envoys = [s.name for s in self.services if s.server == "envoy"]
            if envoys:
                raise ValueError(
                    f"services {envoys} have server: envoy, which speaks http1 and h2c, not "
                    "grpc; fix: use protocol: h2c (HTTP/2 like gRPC) or server: python"
                )
        total = sum(self.requests_per_entry_request().values())
        if total > MAX_REQUESTS_PER_ENTRY_REQUEST:
            raise ValueError(
                f"one request to {self.entry!r} causes {total:,} requests across the graph "
                f"(paths multiply where calls fan out and join); the most allowed is "
                f"{MAX_REQUESTS_PER_ENTRY_REQUEST:,}: remove layers or calls"
            )
        return self

    def _check_acyclic(self) -> None:
        state: dict[str, int] = {}  # 1 = on the current path, 2 = done
        graph = {s.name: s.calls for s in self.services}

        def visit(name: str, path: list[str]) -> None:
            if state.get(name) == 1:
                cycle = " -> ".join([*path[path.index(name) :], name])
                raise ValueError(f"the call graph has a cycle: {cycle}")
            if state.get(name) == 2:
                return
            state[name] = 1
            for child in graph[name]:
                visit(child, [*path, name])
            state[name] = 2

        for s in self.services:
            visit(s.name, [])

    def service(self, name: str) -> ServiceSpec:
        """The service called ``name``."""
        for s in self.services:
            if s.name == name:
                return s
        raise KeyError(name)

    def reachable(self) -> Iterator[ServiceSpec]:
        """Services reachable from the entry, each once, in breadth-first order."""
        seen: list[str] = []
        queue = [self.entry]
        while queue:
            name = queue.pop(0)
            if name in seen:
                continue
            seen.append(name)
            queue.extend(self.service(name).calls)
        for name in seen:
            yield self.service(name)

    def requests_per_entry_request(self) -> dict[str, int]:
        """How many requests each service receives for one request to the entry.

        A service reached by two paths (a diamond) receives two. Used to check that
        sidecar counters account for every request sent. Counted over the graph in
        topological order, so a deep diamond costs its size, not its number of paths.
        """
        counts = {s.name: 0 for s in self.services}
        counts[self.entry] = 1
        for name in self._topological_order():
            for child in self.service(name).calls:
                counts[child] += counts[name]
        return counts

    def depth(self) -> int:
        """Number of service hops on the longest path from the entry (1 = entry only)."""
        longest: dict[str, int] = {}
        for name in reversed(self._topological_order()):
            calls = self.service(name).calls
            longest[name] = 1 + max((longest[c] for c in calls), default=0)
        return longest[self.entry]

    def _topological_order(self) -> list[str]:
        """Services reachable from the entry, every caller before the services it calls."""
        order: list[str] = []
        done: set[str] = set()
        stack: list[tuple[str, bool]] = [(self.entry, False)]
        while stack:
            name, expanded = stack.pop()
            if expanded:
                order.append(name)
                continue
            if name in done:
                continue
            done.add(name)
            stack.append((name, True))
            stack.extend((c, False) for c in self.service(name).calls if c not in done)
        order.reverse()
        return order


def chain(depth: int, payload_bytes: int = 1024, work_ms: float = 0.0) -> Topology:
    """A linear chain of ``depth`` services: frontend -> hop-2 -> ... -> backend."""
    if depth < 1:
        raise ValueError("depth must be at least 1")
    if depth == 1:
        names = ["frontend"]
    elif depth == 2:
        names = ["frontend", "backend"]
    elif depth == 3:
        names = ["frontend", "middle", "backend"]
    else:
        names = ["frontend", *[f"middle-{i}" for i in range(1, depth - 1)], "backend"]
    services = [
        ServiceSpec(
            name=n,
            calls=(names[i + 1],) if i + 1 < len(names) else (),
            payload_bytes=payload_bytes,
            work_ms=work_ms,
        )
        for i, n in enumerate(names)
    ]
    return Topology(entry="frontend", services=tuple(services))
