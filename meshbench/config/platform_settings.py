"""Scenario settings of each platform: ``local:`` (CPU pinning, the Envoy sidecars) and
``kind:`` (the cluster, its resources and deadlines)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from meshbench.config.cpu_list import parse_cpu_list
from meshbench.config.protocols import PROTOCOLS, Protocol, Wire
from meshbench.config.settings_model import SettingsModel as _Model


class LocalSpec(_Model):
    """Settings of the embedded local platform."""

    load_cpus: str | None = Field(
        default=None,
        pattern=r"^[0-9,-]+$",
        description="generator CPUs (taskset list); unset: chosen by measurement "
        "(meshbench.host.cores), CPU 0 on a 2-CPU host",
    )
    pod_cpus: str | None = Field(
        default=None,
        pattern=r"^[0-9,-]+$",
        description="app CPUs (taskset list); unset: chosen by measurement, CPU 1 on 2 CPUs",
    )
    sidecar_cpus: str | None = Field(
        default=None,
        pattern=r"^[0-9,-]+$",
        description="sidecar CPUs (taskset list); unset: pod_cpus when that is set, else "
        "chosen by measurement",
    )
    envoy_concurrency: int = Field(default=1, ge=1, le=64, description="Envoy worker threads")
    sidecar_protocol: Literal["auto", "http1", "h2"] = Field(
        default="auto",
        description="what sidecars speak to each other: auto (the apps' protocol: HTTP/2 "
        "for h2c and grpc, HTTP/1.1 for http1), http1, or h2 (HTTP/1.1 apps upgraded to "
        "HTTP/2 between sidecars, ALPN h2 under mTLS, as Istio's h2UpgradePolicy UPGRADE)",
    )

    sidecar_requests_per_connection: int = Field(
        default=0,
        ge=0,
        le=1_000_000,
        description="requests a sidecar sends over one connection to the next sidecar before "
        "opening a new one (0: pooled, Envoy's default); Istio's DestinationRule "
        "connectionPool.http.maxRequestsPerConnection. With mTLS each new connection is a "
        "TLS handshake",
    )

    def sidecar_wire(self, protocol: Protocol) -> Wire:
        """What sidecars speak to each other when the apps speak ``protocol``."""
        if self.sidecar_protocol == "auto":
            return PROTOCOLS[protocol].sidecar_wire
        return self.sidecar_protocol

    envoy_log_level: Literal["trace", "debug", "info", "warning", "error", "critical", "off"] = (
        "warning"
    )
    sidecar_inbound_delay_ms: dict[str, float] = Field(
        default_factory=dict,
        description="a fixed delay (ms) Envoy's fault filter adds to every request entering "
        "the named services' sidecars, e.g. {middle: 2}: a known cost, for checking where "
        "attribution puts it (none by default)",
    )

    @model_validator(mode="after")
    def _cpu_lists(self) -> LocalSpec:
        for name in ("load_cpus", "pod_cpus", "sidecar_cpus"):
            value = getattr(self, name)
            if value is not None:
                parse_cpu_list(value, name)
        bad = {k: v for k, v in self.sidecar_inbound_delay_ms.items() if not 0 < v <= 10_000}
        if bad:
            raise ValueError(
                f"sidecar_inbound_delay_ms values must be > 0 and <= 10000 ms; got {bad}"
            )
        return self


_QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|k|M|G|Ki|Mi|Gi)?$"


class KindSpec(_Model):
    """Settings of the kind (Kubernetes) platform; see meshbench.platforms.kind."""

    cluster_name: str = Field(default="meshbench", pattern=r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")
    context: str | None = Field(
        default=None,
        description="an existing kube context to use instead of a kind cluster meshbench creates; "
        "must be named explicitly (a load test must never hit a cluster by accident)",
    )
    mtls: bool = Field(default=True, description="mutual TLS between sidecars (Linkerd: always on)")
    load_workers: int = Field(default=1, ge=1, le=64, description="Locust worker pods")
    namespace_prefix: str = Field(default="mb", pattern=r"^[a-z0-9]([a-z0-9-]{0,14}[a-z0-9])?$")
    keep_cluster: bool = Field(default=True, description="keep the kind cluster for the next run")
    replicas: int = Field(default=1, ge=1, le=20, description="pods per service")
    image: str | None = Field(
        default=None,
        description="a meshbench image the cluster can pull; default: build meshbench:<version> "
        "from manifests/image and `kind load` it",
    )
    pin_nodes: bool = Field(
        default=True,
        description="schedule app and load pods on the workers labelled by manifests/kind "
        "(only on clusters meshbench created)",
    )
    app_cpu_request: str = Field(default="250m", pattern=_QUANTITY)
    app_memory_request: str = Field(default="64Mi", pattern=_QUANTITY)
    app_memory_limit: str = Field(default="256Mi", pattern=_QUANTITY)
    app_cpu_limit: str | None = Field(
        default=None,
        pattern=_QUANTITY,
        description="none by default: CFS throttling of a CPU limit shows up as tail latency",
    )
    load_cpu_request: str = Field(default="1", pattern=_QUANTITY)
    load_memory_limit: str = Field(default="1Gi", pattern=_QUANTITY)
    install_timeout_s: float = Field(
        default=600, gt=0, le=3600, description="deadline of each mesh install / removal"
    )
    ready_timeout_s: float = Field(
        default=300, gt=0, le=3600, description="deadline for pods Ready and sidecars present"
    )
    load_start_delay_s: float = Field(
        default=20,
        ge=0,
        le=600,
        description="load workers share a schedule origin this long after their Job is created",
    )
