"""The kind platform: the same benchmark on real Kubernetes with Istio, Linkerd and Kuma.

Entry points for the orchestrator and the CLI:

- :func:`create_platform` -> :class:`KindPlatform` (a :class:`~meshbench.platforms.base.Platform`)
- :func:`plan_steps` / :func:`format_plan`: the ``--dry-run`` plan, every command in order
- :func:`doctor` / :func:`format_doctor`: ``meshbench doctor``

Modules, one concept each: ``versions`` (every pin), ``target`` (names and safety labels),
``manifests`` (Kubernetes objects), ``meshes`` (install/inject/mTLS per mesh), ``tool_steps``
and ``steps`` (the external commands and their runner), ``kubeapi`` (API reads), ``waits``,
``certs`` (Linkerd identity), ``bundle`` and ``merge`` (load results), ``usage`` (kubelet
summary), ``sidecar_stats``, ``doctor``; ``plan`` (every step as data), ``platform`` (runs
them, with the safety checks) and ``deployment`` (one mesh's workload).

The platform, plan and deployment are imported on first use: the load worker pods run
``python -m meshbench.platforms.kind.bundle``, which imports this package first, and the
image they run carries only what the service, the generator and the probe need (no
Kubernetes client, PyYAML or cryptography). ``doctor`` and ``steps`` need only the
standard library and are imported at once (the function ``doctor`` must shadow its module).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from meshbench.platforms.kind.doctor import Check, doctor, format_doctor
from meshbench.platforms.kind.steps import Step, format_plan

if TYPE_CHECKING:
    from meshbench.platforms.kind.deployment import KindDeployment
    from meshbench.platforms.kind.plan import plan_steps
    from meshbench.platforms.kind.platform import KindPlatform, create_platform

_LAZY = {
    "KindDeployment": "deployment",
    "KindPlatform": "platform",
    "create_platform": "platform",
    "plan_steps": "plan",
}
"""Each entry point imported on first use, and the module it lives in."""

__all__ = [
    "Check",
    "KindDeployment",
    "KindPlatform",
    "Step",
    "create_platform",
    "doctor",
    "format_doctor",
    "format_plan",
    "plan_steps",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
