"""What a local run records about its platform (run.json ``platform``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from meshbench.host.pinning import Pinning
from meshbench.host.preflight import Preflight
from meshbench.platforms.base import PlatformEnvironment
from meshbench.platforms.local.names import INBOUND_PORT, OUTBOUND_PORT, POD_NETWORK, PROXY_UID

CAPTURE = (
    f"iptables REDIRECT (istio-init style): outbound {OUTBOUND_PORT}, inbound {INBOUND_PORT}, "
    f"uid {PROXY_UID} excluded"
)


@dataclass(frozen=True, kw_only=True)
class LocalEnvironment(PlatformEnvironment):
    """The run's key and state directory, its Envoys' threads, and the host as the
    preflight found it (``host_warnings``: its warnings for the pinned CPUs, and
    namespaces a killed run left)."""

    pinning: Pinning
    run_key: str
    state_dir: Path
    envoy_concurrency: int
    preflight: Preflight
    leftover_namespaces: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "run_key": self.run_key,
            "state_dir": str(self.state_dir),
            "pod_network": str(POD_NETWORK),
            "capture": CAPTURE,
            "versions": dict(self.versions),
            "envoy_concurrency": self.envoy_concurrency,
            "pinning": self.pinning.to_json(),
            "preflight": {
                **self.preflight.to_json(),
                "leftover_namespaces": self.leftover_namespaces,
                "warnings_for_pinned": list(self.host_warnings),
            },
        }
