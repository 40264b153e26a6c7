"""Every version the kind platform installs, pinned in this one module.

Bump them together, re-run ``pytest tests/unit/kind`` (the manifests are validated against
the schema of :data:`KUBERNETES_VERSION`) and the ``kind`` end-to-end test.

Where each pin was confirmed (public release notes and install docs, read 2026-11):

- kind v0.33.0 and its node images: the kind v0.33.0 release notes ("Images pre-built
  for this release", digests below). kind's notes say to use the digest.
- Kubernetes 1.36: the newest minor that every pinned mesh supports. Istio 1.30 lists
  Kubernetes 1.32-1.36 as supported (istio.io supported-releases data); kind v0.33.0's
  default 1.37 is not yet in that list.
- Istio 1.30.5: istio.io "Announcing Istio 1.30.5" (1.30.x release page). istio.io already
  shows a 1.31 docs version, but no 1.31 patch announcement could be confirmed, so 1.30.z
  stays the pin. Charts ``base`` / ``istiod`` (``cni`` / ``ztunnel`` for ambient) from
  the repository in Istio's "Install with Helm" guide.
- Linkerd edge-26.9.1: open-source Linkerd ships only edge releases (linkerd.io "Installing
  Linkerd"); Helm chart version 2026.9.1 in https://helm.linkerd.io/edge (charts
  ``linkerd-crds`` then ``linkerd-control-plane``, per "Installing Linkerd with Helm").
  Linkerd needs the Gateway API CRDs installed first; v1.2.1 is the newest version in
  Linkerd's published compatibility table.
- Kuma 2.13: the current line in kuma.io's version selector; chart ``kuma/kuma`` from
  https://kumahq.github.io/charts (chart version == Kuma version). The patch level could
  not be confirmed from the docs available here: move to the newest 2.13.z before a run
  whose numbers matter.
"""

from __future__ import annotations

from dataclasses import dataclass

KIND_VERSION = "v0.33.0"
KUBERNETES_VERSION = "v1.36.4"
NODE_IMAGE = (
    "kindest/node:v1.36.4@sha256:099e049362a1526b2db71494e1947aae99bd16290d7c895f2b7ea312e3cbfaed"
)
SCHEMA_VERSION = "1.36.0"
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

KUMA_VERSION = "2.13.0"
KUMA_CHART_REPO = "https://kumahq.github.io/charts"

PYTHON_BASE_IMAGE = "python:3.11-slim-bookworm"
"""Base of the one meshbench image (manifests/image/Dockerfile takes it as a build arg)."""


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
    """Every pin, for run.json and ``meshbench doctor``."""
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
