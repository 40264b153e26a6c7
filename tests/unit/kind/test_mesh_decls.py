"""Every declared kind mesh has what the kind platform needs (an install class, a
control-plane namespace, opt-outs, a pinned release, its CLI in doctor) and the versions a
run records come from the declarations, not from a list of their own."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshbench.config.dimensions import AA_CONTROL, BASELINE
from meshbench.config.meshes import MeshDecl, mesh_names, meshes_on
from meshbench.platforms.kind import create_platform, versions
from meshbench.platforms.kind.doctor import PROBES
from meshbench.platforms.kind.meshes import MESHES, mesh
from meshbench.platforms.kind.meshes.base import Mesh
from meshbench.platforms.kind.steps import INSTALL_HINTS
from meshbench.platforms.kind.target import target_for
from meshbench.platforms.kind.unmeshed import unmeshed_namespace

from .fakes import scenario

MESHED = [d for d in meshes_on("kind") if d.data_plane != "none"]


@pytest.mark.parametrize("decl", MESHED, ids=lambda d: d.name)
def test_a_kind_mesh_has_an_install_class_that_installs_into_its_namespace(
    decl: MeshDecl,
) -> None:
    m = MESHES[decl.name]
    assert type(m) is not Mesh and m.decl is decl  # its own class, from its declaration
    sc = scenario(meshes=[BASELINE, decl.name])
    t = target_for(sc, Path("/unused"))
    assert decl.cp_namespace
    assert any(decl.cp_namespace in s.argv for s in m.install_steps(sc, t))
    removed = [s.what for s in m.uninstall_steps(sc, t)]
    assert f"delete namespace {decl.cp_namespace}" in removed


@pytest.mark.parametrize("decl", MESHED, ids=lambda d: d.name)
def test_the_baselines_namespace_opts_out_of_every_kind_mesh(decl: MeshDecl) -> None:
    meta = unmeshed_namespace("mb-base-app")["metadata"]
    assert decl.opt_out_labels.items() <= meta["labels"].items()
    assert decl.opt_out_annotations.items() <= meta.get("annotations", {}).items()


@pytest.mark.parametrize("decl", MESHED, ids=lambda d: d.name)
def test_a_kind_mesh_pins_a_release_and_doctor_knows_its_cli(decl: MeshDecl) -> None:
    assert decl.version_key in versions.pinned()
    assert decl.version_key in versions.TESTED_KUBERNETES
    assert decl.name in versions.tested_matrix()
    assert decl.probe is not None
    assert decl.probe.tool in {p.tool for p in PROBES}
    pin = versions.pinned()[decl.version_key]
    hint = INSTALL_HINTS[decl.probe.tool]
    assert "{" not in hint and (pin in hint or "{version}" not in decl.probe.install_hint)


def test_doctor_probes_each_mesh_cli_once() -> None:
    tools = [p.tool for p in PROBES]
    assert len(tools) == len(set(tools))


def test_the_recorded_versions_cover_every_kind_mesh_in_the_scenario() -> None:
    """The pins recorded in run.json come from the declarations (istio-ambient included)."""
    every = scenario(meshes=list(mesh_names("kind")))
    recorded = create_platform(every, dry_run=True).environment().versions
    for d in MESHED:
        assert d.version_key is not None
        assert recorded.get(d.name) == versions.pinned()[d.version_key], d.name
    assert BASELINE not in recorded
    some = create_platform(scenario(meshes=[BASELINE, "istio"]), dry_run=True).environment()
    assert "istio-ambient" not in some.versions and "kuma" not in some.versions


def test_the_aa_control_deploys_like_the_baseline_under_its_own_name() -> None:
    aa, base = mesh(AA_CONTROL), mesh(BASELINE)
    assert aa.name == AA_CONTROL and type(aa) is type(base) is Mesh
    assert (aa.sidecar, aa.cp_namespace, aa.ns_labels) == (None, "", {})
    sc = scenario()
    assert aa.install_steps(sc, target_for(sc, Path("/unused"))) == []
