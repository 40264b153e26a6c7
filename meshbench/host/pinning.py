"""Which CPUs the local platform pins each role to (:class:`Pinning`), and the one sentence
that says so (the dry run's doctor, a run's start, every report's header)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from meshbench.config.cpu_list import parse_cpu_list


@dataclass(frozen=True)
class Pinning:
    """CPU lists (taskset syntax) per role, and how they were chosen."""

    load_cpus: str
    pod_cpus: str
    sidecar_cpus: str
    chosen_by: str

    def cpus(self) -> list[int]:
        """Every CPU any role is pinned to."""
        return sorted(
            {
                c
                for spec in (self.load_cpus, self.pod_cpus, self.sidecar_cpus)
                for c in parse_cpu_list(spec)
            }
        )

    def to_json(self) -> dict[str, str]:
        return {
            "load_cpus": self.load_cpus,
            "pod_cpus": self.pod_cpus,
            "sidecar_cpus": self.sidecar_cpus,
            "chosen_by": self.chosen_by,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], missing: str) -> Pinning:
        """The pinning a run recorded (run.json ``pinning``), ``missing`` for a list it
        lacks; a run recorded before ``sidecar_cpus`` pinned its sidecars with the apps."""
        pods = str(data.get("pod_cpus", missing))
        return cls(
            str(data.get("load_cpus", missing)),
            pods,
            str(data.get("sidecar_cpus") or pods),
            str(data.get("chosen_by") or ""),
        )

    def describe(self, on_cpus: bool = False) -> str:
        """``load 0, apps 1, sidecars 1 (scenario)``; ``on_cpus``: ``load on CPUs 0, ...``.
        The reason in brackets where one is known."""
        on = "on CPUs " if on_cpus else ""
        return (
            f"load {on}{self.load_cpus}, apps {on}{self.pod_cpus}, sidecars {on}{self.sidecar_cpus}"
            + (f" ({self.chosen_by})" if self.chosen_by else "")
        )
