"""The meshes of the kind platform, by name: how each is installed, injected, configured
and removed (one module per mesh; :mod:`.base` holds what they share).

The facts of each mesh (names, namespaces, labels, counters, pins, CLI) are its
declaration in :mod:`meshbench.config.meshes`, which names the class here that installs
it. Each mesh is installed the way its own documentation says (Helm charts at the versions
in :mod:`meshbench.platforms.kind.versions`), into a control-plane namespace meshbench
creates and labels, waited on by conditions, and removed before the next mesh.

mTLS per scenario (``kind.mtls``):

- istio: PeerAuthentication STRICT for the app namespace, or DISABLE plus a DestinationRule
  so clients send plaintext too. The load generator is outside the mesh by default, so the
  entry workload alone is PERMISSIVE (its callers inside the mesh still use mTLS).
- linkerd: mTLS is always on between meshed pods; ``kind.mtls: false`` cannot turn it off
  (reports must say so: see :attr:`Mesh.mtls_always_on`).
- kuma: the ``default`` Mesh with the builtin CA (STRICT, or PERMISSIVE when the load
  generator is outside the mesh), or without mTLS.
- istio-ambient (stretch): ztunnel always encrypts between nodes; no sidecars at all.
"""

from __future__ import annotations

import importlib

from meshbench.config.meshes import MeshDecl, mesh_decl, meshes_on
from meshbench.platforms.kind.meshes.base import Mesh


def _behaviour(decl: MeshDecl) -> Mesh:
    """``decl`` with the class its :attr:`~MeshDecl.install` names (the plain :class:`Mesh`
    for an arm that installs nothing)."""
    if decl.install is None:
        return Mesh(decl)
    module, _, name = decl.install.partition(":")
    cls = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    if not (isinstance(cls, type) and issubclass(cls, Mesh)):
        raise TypeError(f"{decl.name}: install {decl.install!r} is not a Mesh class")
    return cls(decl)


MESHES: dict[str, Mesh] = {d.name: _behaviour(d) for d in meshes_on("kind") if d.listed}
"""Every mesh a kind scenario may list, by name, in declaration order."""

SIDECAR_CONTAINERS = frozenset(m.sidecar for m in MESHES.values() if m.sidecar)
"""Container names that are mesh sidecars (for splitting sidecar from service cost)."""


def mesh(name: str) -> Mesh:
    """The :class:`Mesh` called ``name`` (scenario validation already checked the name).

    ``none-aa``, the A/A control arm, is declared like ``none`` under its own name.
    """
    return MESHES[name] if name in MESHES else _behaviour(mesh_decl(name))
