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
"""

from meshbench.platforms.kind.deployment import KindDeployment
from meshbench.platforms.kind.doctor import Check, doctor, format_doctor
from meshbench.platforms.kind.plan import plan_steps
from meshbench.platforms.kind.platform import KindPlatform, create_platform
from meshbench.platforms.kind.steps import Step, format_plan

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
