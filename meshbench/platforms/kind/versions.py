"""Every version the kind platform installs, pinned in this one module.

Bump them together, re-run ``pytest tests/unit/kind`` (the manifests are validated against
the schema of :data:`KUBERNETES_VERSION`) and the ``kind`` end-to-end test.

Where each pin was confirmed (public release notes and install docs, read 2026-11):

- kind v0.33.0 and its node images: the kind v0.33.0 release notes ("Images pre-built
  for this release": v1.37.0, v1.36.4, v1.35.8, v1.34.11, each with its digest; quoted
  in full in polarsquad/krops PR #112). kind's notes say to use the digest.
- Kubernetes 1.34: the newest minor inside *every* pinned mesh's tested range
  (:data:`TESTED_KUBERNETES`, each range with its source). 1.36 was pinned before, but
  Linkerd's support table and Kuma 2.13's CI both stop at 1.34.
- Istio 1.30.5: istio.io "Announcing Istio 1.30.5" (1.30.x release page). istio.io already
  shows a 1.31 docs version, but no 1.31 patch announcement could be confirmed, so 1.30.z
  stays the pin. Charts ``base`` / ``istiod`` (``cni`` / ``ztunnel`` for ambient) from
  the repository in Istio's "Install with Helm" guide.
- Linkerd edge-26.9.1: open-source Linkerd ships only edge releases (linkerd.io "Installing
  Linkerd"); Helm chart version 2026.9.1 in https://helm.linkerd.io/edge (charts
  ``linkerd-crds`` then ``linkerd-control-plane``, per "Installing Linkerd with Helm").
  Linkerd needs the Gateway API CRDs installed first; v1.2.1 is the newest version in
  Linkerd's published compatibility table.
- Kuma 2.13.10: the newest 2.13 patch (2.13.0 was from 2025-12; the source review of
  meshbench issue 10 found 2.13.10 and 2.14.3 current). 2.13 stays the line because its
  CI's Kubernetes range (1.31-1.34) is known; 2.14's was not confirmed here. Chart
  ``kuma/kuma`` from https://kumahq.github.io/charts (chart version == Kuma version).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from meshbench.config.meshes import mesh_decl, meshes_on

KIND_VERSION = "v0.33.0"
KUBERNETES_VERSION = "v1.34.11"
NODE_IMAGE = (
    "kindest/node:v1.34.11@sha256:44e222ee2132dab25ff87301682f89eb82c7880ea3a1bf543bfe9708fd08d67d"
)
SCHEMA_VERSION = "1.34.0"
"""kubernetes-validate schema the tests validate rendered manifests against (same minor)."""

HELM_MIN_VERSION = "v3.14.0"
"""Oldest Helm that installs every pinned chart (Istio asks for >= 3.6; 3.14 adds nothing
we need, it is simply the oldest tested)."""

ISTIO_VERSION = "1.30.5"
ISTIO_CHART_REPO = "https://istio-release.storage.googleapis.com/charts"

LINKERD_VERSION = "edge-26.9.1"
LINKERD_CHART_VERSION = "2026.9.1"
LINKERD_CHART_REPO = "https://helm.linkerd.io/edge"
GATEWAY_API_VERSION = "v1.2.1"
GATEWAY_API_URL = (
    "https://github.com/kubernetes-sigs/gateway-api/releases/download/"
    f"{GATEWAY_API_VERSION}/standard-install.yaml"
)

KUMA_VERSION = "2.13.10"
KUMA_CHART_REPO = "https://kumahq.github.io/charts"

BASE_IMAGE = "debian:bookworm-slim"
"""Base of the one meshbench image (manifests/image/Dockerfile takes it as a build arg):
Debian's own Python 3.11 on any architecture Debian ships, and a base that
``debootstrap --variant=minbase bookworm`` reproduces without a registry (``make
image-check`` builds on one)."""


@dataclass(frozen=True)
class TestedRange:
    """The Kubernetes minors a mesh release is tested or supported on, and where that is said."""

    oldest: tuple[int, int] | None  # None: not confirmed (only the newest is checked)
    newest: tuple[int, int]
    source: str

    def covers(self, version: str) -> bool:
        """True when ``version`` (``v1.34.11`` or ``1.34``) is inside the range."""
        v = minor_of(version)
        return (self.oldest is None or self.oldest <= v) and v <= self.newest


def minor_of(version: str) -> tuple[int, int]:
    """(major, minor) of a Kubernetes version string such as ``v1.34.11``."""
    major, minor = version.lstrip("v").split(".")[:2]
    return int(major), int(minor)


TESTED_KUBERNETES: dict[str, TestedRange] = {
    "istio": TestedRange(
        (1, 32),
        (1, 36),
        "istio.io docs/releases/supported-releases: Istio 1.30 supports Kubernetes 1.32-1.36",
    ),
    "linkerd": TestedRange(
        None,
        (1, 34),
        "linkerd.io 'Kubernetes compatibility' table (edge releases): newest listed 1.34 "
        "(source review, meshbench issue 10; its oldest entry was not confirmed here)",
    ),
    "kuma": TestedRange(
        (1, 31),
        (1, 34),
        "Kuma 2.13 CI test matrix: Kubernetes 1.31-1.34 (source review, meshbench issue 10)",
    ),
}
"""Per pinned mesh release (the key a mesh declares as its ``version_key``): the Kubernetes
range it is tested on. The pinned node image must be inside every range (a unit test holds
this)."""


@dataclass(frozen=True)
class Chart:
    """One Helm chart at a pinned version, from a named repository."""

    repo_name: str
    repo_url: str
    chart: str
    version: str

    @property
    def ref(self) -> str:
        """``repo/chart`` as Helm expects it."""
        return f"{self.repo_name}/{self.chart}"


ISTIO_BASE = Chart("istio", ISTIO_CHART_REPO, "base", ISTIO_VERSION)
ISTIOD = Chart("istio", ISTIO_CHART_REPO, "istiod", ISTIO_VERSION)
ISTIO_CNI = Chart("istio", ISTIO_CHART_REPO, "cni", ISTIO_VERSION)
ISTIO_ZTUNNEL = Chart("istio", ISTIO_CHART_REPO, "ztunnel", ISTIO_VERSION)
LINKERD_CRDS = Chart("linkerd-edge", LINKERD_CHART_REPO, "linkerd-crds", LINKERD_CHART_VERSION)
LINKERD_CONTROL_PLANE = Chart(
    "linkerd-edge", LINKERD_CHART_REPO, "linkerd-control-plane", LINKERD_CHART_VERSION
)
KUMA = Chart("kuma", KUMA_CHART_REPO, "kuma", KUMA_VERSION)


def pinned() -> dict[str, str]:
    """Every pin, for run.json and ``meshbench doctor`` (a mesh's ``version_key`` is one of
    these keys)."""
    return {
        "kind": KIND_VERSION,
        "kubernetes": KUBERNETES_VERSION,
        "node_image": NODE_IMAGE,
        "istio": ISTIO_VERSION,
        "linkerd": LINKERD_VERSION,
        "linkerd_chart": LINKERD_CHART_VERSION,
        "gateway_api": GATEWAY_API_VERSION,
        "kuma": KUMA_VERSION,
        "helm_min": HELM_MIN_VERSION,
    }


def mesh_versions(meshes: Iterable[str]) -> dict[str, str]:
    """The pinned release of each of ``meshes`` that installs one (for run.json)."""
    pins = pinned()
    decls = [mesh_decl(m) for m in meshes]
    return {d.name: pins[d.version_key] for d in decls if d.version_key is not None}


def tested_matrix() -> dict[str, str]:
    """Per kind mesh, its release's tested Kubernetes range and source (for run.json and
    the README)."""

    def minor(v: tuple[int, int] | None) -> str:
        return "?" if v is None else f"{v[0]}.{v[1]}"

    ranges = {
        d.name: TESTED_KUBERNETES[d.version_key]
        for d in meshes_on("kind")
        if d.version_key is not None
    }
    return {mesh: f"{minor(r.oldest)}-{minor(r.newest)} ({r.source})" for mesh, r in ranges.items()}
