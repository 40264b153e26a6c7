"""Platforms that deploy the sample application with or without a mesh.

``local``: network namespaces with Envoy sidecars (the embedded default).
``kind``: real Kubernetes with Istio, Linkerd or Kuma.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from meshbench.platforms.base import Platform

_PLATFORMS = {
    "local": ("meshbench.platforms.local.platform", "LocalPlatform"),
    "kind": ("meshbench.platforms.kind", "KindPlatform"),
}
"""Each platform's class, imported only when a scenario names it (kind needs no Envoy,
local no Kubernetes client)."""


def platform_class(name: str) -> type[Platform]:
    """The :class:`~meshbench.platforms.base.Platform` a scenario's ``platform`` names."""
    module, cls = _PLATFORMS[name]
    platform: type[Platform] = getattr(import_module(module), cls)
    return platform
