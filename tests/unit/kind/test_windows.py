"""The baseline beside every mesh on kind (issue 10, "mesh is confounded with time"): its
own unmeshed namespaces, deployed and proven inside each mesh's install window, exactly
as the dry-run plan says."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

import pytest
import yaml

from meshbench.config.dimensions import BASELINE
from meshbench.errors import PlatformError
from meshbench.platforms.kind.meshes import MESHES
from meshbench.platforms.kind.meshes.linkerd import GATEWAY_API_CRD
from meshbench.platforms.kind.plan import plan_steps, repo_root
from meshbench.platforms.kind.platform import KindPlatform
from meshbench.platforms.kind.unmeshed import OPT_OUT_ANNOTATIONS, OPT_OUT_LABELS
from meshbench.platforms.kind.versions import GATEWAY_API_URL

from .conftest import Build
from .fakes import ambient_captures, injects, scenario

MESHED = [m for m in MESHES if m != BASELINE]


def _fake_for(mesh_name: str) -> dict[str, Any]:
    """How the fake cluster behaves with ``mesh_name`` installed."""
    return {"sidecar": MESHES[mesh_name].sidecar, "ambient": mesh_name == "istio-ambient"}


def _namespaces(stdin: str) -> dict[str, dict[str, Any]]:
    return {
        d["metadata"]["name"]: d["metadata"]
        for d in yaml.safe_load_all(stdin)
        if d and d["kind"] == "Namespace"
    }


def test_kind_runs_the_baseline_beside_each_mesh() -> None:
    assert KindPlatform.baseline_beside_each_mesh and not KindPlatform.concurrent_meshes


@pytest.mark.parametrize("mesh_name", sorted(MESHES))
def test_every_meshs_injection_is_opted_out(mesh_name: str) -> None:
    """Each label or annotation a mesh enrols a namespace with has an opt-out value on the
    baseline's namespaces: a new mesh without one fails here."""
    m = MESHES[mesh_name]
    for key, value in m.ns_labels.items():
        assert OPT_OUT_LABELS.get(key) not in (None, value), key
    for key, value in m.ns_annotations.items():
        assert OPT_OUT_ANNOTATIONS.get(key) not in (None, value), key
    assert "istio.io/rev" not in OPT_OUT_LABELS  # a revision label would enrol it


@pytest.mark.parametrize("sidecar", sorted(m.sidecar for m in MESHES.values() if m.sidecar))
def test_opted_out_even_from_an_injector_that_takes_every_namespace(sidecar: str) -> None:
    meta = {"labels": OPT_OUT_LABELS, "annotations": OPT_OUT_ANNOTATIONS}
    assert not injects(sidecar, meta, by_default=True)
    assert not ambient_captures(meta, by_default=True)
    assert injects(sidecar, {}, by_default=True)  # the fake's rule does inject the unlabelled


@pytest.mark.parametrize("by_default", [False, True])
@pytest.mark.parametrize("mesh_name", MESHED)
def test_a_window_deploys_the_baseline_unmeshed_beside_the_mesh_as_planned(
    build: Build, mesh_name: str, by_default: bool
) -> None:
    """The orchestrator's order in a window (mesh first, then the baseline arms, removed in
    reverse) runs exactly the plan's commands; the baseline's proof shows no proxy in its
    pods while the mesh is installed, even from an injector that takes every namespace."""
    sc = scenario(meshes=["none", mesh_name], aa_control=True)
    platform, fake, api = build(sc, inject_by_default=by_default, **_fake_for(mesh_name))
    with ExitStack() as window:
        mesh = window.enter_context(platform.deploy(mesh_name))
        mesh_proof = mesh.verify()
        proofs = {}
        for arm in ("none", "none-aa"):
            dep = window.enter_context(platform.deploy(arm))
            proofs[arm] = dep.verify()
        assert platform.installed_mesh == mesh_name  # still up while the baseline runs
    assert platform.installed_mesh is None
    if MESHES[mesh_name].sidecar:
        assert all(mesh_proof.sidecars.values())
    assert mesh_proof.crossed_sidecars
    for arm, ns in (("none", "mb-base-app"), ("none-aa", "mb-base-aa-app")):
        proof = proofs[arm]
        assert set(proof.sidecars) == {"frontend-0", "middle-0", "backend-0"}
        assert not any(proof.sidecars.values())
        assert proof.details["mesh_installed"] == mesh_name
        assert proof.details["namespaces"]["app"] == ns
        assert proof.details["entry_url"] == f"http://frontend.{ns}.svc.cluster.local:8080/"
        assert not api.has_sidecar(ns) and not api.captured(ns)
    assert api.has_sidecar("mb-app") is bool(MESHES[mesh_name].sidecar)
    # The baseline's namespaces carry no enrolment, only opt-outs; the mesh's its own.
    ns = _namespaces(fake.stdin())
    for name in ("mb-base-app", "mb-base-load", "mb-base-aa-app", "mb-base-aa-load"):
        assert {
            k: v for k, v in ns[name]["labels"].items() if k in OPT_OUT_LABELS
        } == OPT_OUT_LABELS
        assert ns[name]["annotations"] == OPT_OUT_ANNOTATIONS
    assert MESHES[mesh_name].ns_labels.items() <= ns["mb-app"]["labels"].items()
    # Exactly the dry-run plan's window, in its order.
    planned = [
        " ".join(s.argv)
        .replace("<run-work-dir>", str(platform.target.work_dir))
        .replace(str(repo_root()), str(platform.source_dir))
        for s in plan_steps(sc)
        if s.kind == "run" and not s.phase.startswith("load") and s.argv[:2] != ("kind", "create")
    ]
    skip = ("kind version", "kind get", "linkerd check", "docker exec")
    ran = [c for c in fake.calls() if not c.startswith(skip)]
    assert ran == [p for p in planned if not p.startswith(skip)]
    # Each arm's logs kept per window.
    logs = platform.target.work_dir / "logs"
    assert sorted(p.name for p in logs.iterdir()) == sorted(
        [mesh_name, f"none-in-{mesh_name}", f"none-aa-in-{mesh_name}"]
    )


def test_a_baseline_removed_inside_the_window_leaves_the_mesh_alone(build: Build) -> None:
    """The baseline's exit must not remove what the mesh still needs (Linkerd's identity
    files) nor forget that the Gateway API CRDs were there before the run."""
    sc = scenario(meshes=["none", "linkerd"])
    platform, fake, _ = build(sc, crds={GATEWAY_API_CRD}, **_fake_for("linkerd"))
    certs = platform.target.work_dir / "linkerd-identity"
    with platform.deploy("linkerd"):
        with platform.deploy("none"):
            pass
        assert certs.is_dir()
    assert not certs.exists()
    assert not any(GATEWAY_API_URL in c for c in fake.calls())  # neither installed nor removed


def test_a_second_mesh_is_refused_while_one_is_installed(build: Build) -> None:
    sc = scenario(meshes=["istio", "kuma"])
    platform, fake, _ = build(sc, sidecar="istio-proxy")
    with (
        platform.deploy("istio"),
        pytest.raises(PlatformError, match="while istio is installed"),
        platform.deploy("kuma"),
    ):
        pass
    assert not any("kuma" in c for c in fake.calls())


def test_a_baseline_captured_by_ztunnel_fails_its_proof(
    build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ambient has no sidecar to see: a captured pod carries istio-cni's annotation."""
    sc = scenario(meshes=["none", "istio-ambient"])
    platform, _, api = build(sc, ambient=True)
    monkeypatch.setattr(api, "captured", lambda ns: True)  # ztunnel takes every namespace
    with (
        platform.deploy("istio-ambient"),
        pytest.raises(PlatformError, match=r"frontend-0 \(captured by ztunnel\)"),
        platform.deploy("none"),
    ):
        pass


def test_environment_names_the_baseline_namespaces(build: Build) -> None:
    sc = scenario(meshes=["none", "istio"], aa_control=True)
    platform, _, _ = build(sc)
    assert platform.environment().setup.namespaces == {
        "app": "mb-app",
        "load": "mb-load",
        "baseline": {
            "none": {"app": "mb-base-app", "load": "mb-base-load"},
            "none-aa": {"app": "mb-base-aa-app", "load": "mb-base-aa-load"},
        },
    }
