"""The sample application's shape: which service calls which, with what payload and work.

One topology drives both platforms (local network namespaces and Kubernetes manifests),
so the two benchmark exactly the same thing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

ServiceName = Annotated[str, StringConstraints(pattern=r"^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$")]
"""A DNS-1123 label (so it is also a valid Kubernetes Service name), at most 32 chars."""


class ServiceSpec(BaseModel):
    """One service of the sample application."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ServiceName
    calls: tuple[ServiceName, ...] = Field(
        default=(), description="downstream services called for every request, in parallel"
    )
    payload_bytes: int = Field(default=1024, ge=0, le=16 * 1024 * 1024)
    work_ms: float = Field(
        default=0.0, ge=0, le=10_000, description="simulated work (asynchronous wait) per request"
    )


class Topology(BaseModel):
    """A call graph of services with one entry point; it must be acyclic."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    entry: ServiceName = "frontend"
    port: int = Field(default=8080, ge=1024, le=65535, description="port every service listens on")
    services: tuple[ServiceSpec, ...] = Field(min_length=1)

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
        sidecar counters account for every request sent.
        """
        counts = {s.name: 0 for s in self.services}

        def walk(name: str) -> None:
            counts[name] += 1
            for child in self.service(name).calls:
                walk(child)

        walk(self.entry)
        return counts

    def depth(self) -> int:
        """Number of service hops on the longest path from the entry (1 = entry only)."""

        def d(name: str) -> int:
            calls = self.service(name).calls
            return 1 + (max(d(c) for c in calls) if calls else 0)

        return d(self.entry)


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
