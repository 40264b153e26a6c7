"""The baseline arms' namespaces: unmeshed, whichever mesh is installed beside them.

On kind the baseline (``none``, and ``none-aa``) runs inside every mesh's install window,
in namespaces of its own (:meth:`~meshbench.platforms.kind.target.Target.for_mesh`).
Leaving them unlabelled keeps them out of every mesh's default injection; they also opt
out explicitly, so a mesh configured to inject every namespace (Istio's
``enableNamespacesByDefault``) or a leftover label cannot put a proxy in the baseline's path.
The deployment still proves it: no sidecar, and no ambient capture, in any baseline pod.
"""

from __future__ import annotations

from meshbench.config.meshes import meshes_on
from meshbench.platforms.kind.manifests import Obj, namespace

OPT_OUT_LABELS: dict[str, str] = {
    k: v for d in meshes_on("kind") for k, v in d.opt_out_labels.items()
}
"""Every kind mesh's opt-out labels (each declared with its mesh)."""
OPT_OUT_ANNOTATIONS: dict[str, str] = {
    k: v for d in meshes_on("kind") for k, v in d.opt_out_annotations.items()
}
"""Every kind mesh's opt-out annotations (Linkerd's injector reads an annotation)."""

AMBIENT_REDIRECTION = "ambient.istio.io/redirection"
"""Pod annotation istio-cni sets (``enabled``) on a pod ztunnel captures."""


def unmeshed_namespace(name: str) -> Obj:
    """A baseline namespace, opted out of every mesh meshbench installs."""
    return namespace(name, OPT_OUT_LABELS, OPT_OUT_ANNOTATIONS)
