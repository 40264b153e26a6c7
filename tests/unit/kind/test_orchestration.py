"""The kind platform's orchestration per mesh, against fake CLIs and a fake API client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from meshbench.errors import PlatformError, TimeoutExpired, ToolMissingError
from meshbench.platforms.kind import manifests as mf
from meshbench.platforms.kind import versions
from meshbench.platforms.kind.meshes import MESHES
from meshbench.platforms.kind.meshes.linkerd import GATEWAY_API_CRD
from meshbench.platforms.kind.plan import plan_steps, repo_root
from meshbench.platforms.kind.versions import GATEWAY_API_URL

from .conftest import Build
from .fakes import Rule, scenario

MUTATING = (
    "kubectl --context kind-meshbench apply",
    "helm upgrade",
    "helm uninstall",
    "docker build",
    "kind load",
    "kind create",
    "kubectl --context kind-meshbench delete",
)


def _mutations(calls: list[str]) -> list[str]:
    return [c for c in calls if c.startswith(MUTATING)]


def _applied(fake_stdin: str) -> list[dict[str, Any]]:
    """The manifests applied, as YAML gives them (nested mappings and lists of any shape)."""
    return [d for d in yaml.safe_load_all(fake_stdin) if d]


@pytest.mark.parametrize("mesh_name", list(MESHES))
def test_deploy_runs_exactly_the_dry_run_plan_and_cleans_up(build: Build, mesh_name: str) -> None:
    sc = scenario(meshes=[mesh_name])
    sidecar = MESHES[mesh_name].sidecar
    platform, fake, _ = build(sc, sidecar=sidecar)
    with platform.deploy(mesh_name) as dep:
        proof = dep.verify()
        assert set(proof.sidecars) == {"frontend-0", "middle-0", "backend-0"}
        assert all(proof.sidecars.values()) is bool(sidecar)
        assert proof.crossed_sidecars is bool(MESHES[mesh_name].stats)
        during = fake.calls()
        assert not any("delete namespace" in c for c in during[-3:])  # not torn down yet
    calls = fake.calls()
    # Every command the plan lists (less the load template and the skipped kind create,
    # the cluster exists) ran, in the same order; nothing else mutated the cluster (reads:
    # kind's version and clusters, linkerd check, the nodes' clocks).
    planned = [
        " ".join(s.argv)
        for s in plan_steps(sc)
        if s.kind == "run" and not s.phase.startswith("load") and s.argv[:2] != ("kind", "create")
    ]
    planned = [
        p.replace("<run-work-dir>", str(platform.target.work_dir)).replace(
            str(repo_root()), str(platform.source_dir)
        )
        for p in planned
    ]
    if mesh_name == "linkerd":
        assert any(GATEWAY_API_URL in c for c in calls)
    ran = [
        c
        for c in calls
        if not c.startswith(("kind version", "kind get", "linkerd check", "docker exec"))
    ]
    assert ran == [p for p in planned if not p.startswith(("kind get", "linkerd check"))]
    # Every kubectl/helm call named the context explicitly.
    for c in calls:
        if c.startswith("kubectl"):
            assert c.startswith("kubectl --context kind-meshbench "), c
        if c.startswith("helm") and not c.startswith("helm repo"):
            assert "--kube-context kind-meshbench" in c, c
    # Torn down: namespaces deleted (the baseline's own), then the mesh uninstalled.
    app_ns = "mb-base-app" if mesh_name == "none" else "mb-app"
    assert f"kubectl --context kind-meshbench delete namespace {app_ns} " in " | ".join(calls)
    if MESHES[mesh_name].cp_namespace:
        last = (
            "kubectl --context kind-meshbench delete namespace",
            "kubectl --context kind-meshbench delete --ignore-not-found -f",
        )
        assert calls[-1].startswith(last)
        assert any(c.startswith("helm uninstall") for c in calls)


def test_injection_labels_and_mtls_objects_are_applied(build: Build) -> None:
    sc = scenario(meshes=["istio"])
    platform, fake, _ = build(sc, sidecar="istio-proxy")
    with platform.deploy("istio"):
        pass
    docs = _applied(fake.stdin())
    ns = {d["metadata"]["name"]: d["metadata"] for d in docs if d["kind"] == "Namespace"}
    assert ns["mb-app"]["labels"]["istio-injection"] == "enabled"
    assert "istio-injection" not in ns["mb-load"]["labels"]  # load stays outside the mesh
    assert all(m["labels"]["app.kubernetes.io/managed-by"] == "meshbench" for m in ns.values())
    pas = {d["metadata"]["name"]: d for d in docs if d["kind"] == "PeerAuthentication"}
    assert pas["default"]["spec"]["mtls"]["mode"] == "STRICT"
    assert pas["entry-accepts-unmeshed-load"]["spec"]["selector"] == {
        "matchLabels": {"app": "frontend"}
    }


def test_linkerd_certificates_exist_for_helm_and_are_removed(build: Build) -> None:
    sc = scenario(meshes=["linkerd"])
    platform, fake, _ = build(sc, sidecar="linkerd-proxy")
    cert_dir = platform.target.work_dir / "linkerd-identity"
    with platform.deploy("linkerd"):
        assert sorted(p.name for p in cert_dir.iterdir()) == ["ca.crt", "issuer.crt", "issuer.key"]
        helm = next(c for c in fake.calls() if "linkerd-control-plane linkerd-edge" in c)
        assert f"identityTrustAnchorsPEM={cert_dir / 'ca.crt'}" in helm
    assert not cert_dir.exists()
    # The Gateway API CRDs were absent: installed, then removed again.
    calls = fake.calls()
    assert any(c.endswith(f"apply --server-side -f {GATEWAY_API_URL}") for c in calls)
    assert any(c.endswith(f"delete --ignore-not-found -f {GATEWAY_API_URL}") for c in calls)


def test_preexisting_gateway_api_is_neither_installed_nor_removed(build: Build) -> None:
    sc = scenario(meshes=["linkerd"])
    platform, fake, _ = build(sc, sidecar="linkerd-proxy", crds={GATEWAY_API_CRD})
    with platform.deploy("linkerd"):
        pass
    assert not any(GATEWAY_API_URL in c for c in fake.calls())


def test_install_timeout_raises_and_removes_what_was_installed(build: Build) -> None:
    sc = scenario(meshes=["istio"])
    rules = {
        "helm": [
            Rule("helm upgrade --install istiod *", 1, stderr="Error: context deadline exceeded")
        ]
    }
    platform, fake, _ = build(sc, rules=rules, sidecar="istio-proxy")
    with pytest.raises(TimeoutExpired, match="istiod"), platform.deploy("istio"):
        pytest.fail("must not get here")
    calls = fake.calls()
    assert not any("mb-app" in c for c in calls)  # workload never started
    tail = calls[-3:]
    assert tail[0].startswith("helm uninstall istiod")
    assert tail[1].startswith("helm uninstall istio-base")
    assert tail[2].startswith("kubectl --context kind-meshbench delete namespace istio-system")


def test_kubectl_wait_timeout_is_a_timeout(build: Build) -> None:
    sc = scenario(meshes=["none"])
    timed_out = "error: timed out waiting for the condition on deployments/x"
    rules = {
        "kubectl": [
            Rule("kubectl * wait --for=condition=Available * mb-base-app *", 1, stderr=timed_out)
        ]
    }
    platform, fake, _ = build(sc, rules=rules)
    with pytest.raises(TimeoutExpired, match="mb-base-app"), platform.deploy("none"):
        pass
    assert fake.calls()[-2:] == [
        "kubectl --context kind-meshbench delete namespace mb-base-app --ignore-not-found "
        "--wait=true --timeout=300s",
        "kubectl --context kind-meshbench delete namespace mb-base-load --ignore-not-found "
        "--wait=true --timeout=300s",
    ]


def test_missing_sidecar_fails_and_cleans_up(build: Build) -> None:
    sc = scenario(meshes=["kuma"])
    platform, fake, _ = build(sc, sidecar=None)  # the injector did nothing
    with (
        pytest.raises(PlatformError, match="without the kuma-sidecar sidecar: backend-0"),
        platform.deploy("kuma"),
    ):
        pass
    calls = fake.calls()
    assert any(c.startswith("helm uninstall kuma") for c in calls)
    assert any("delete namespace mb-app" in c for c in calls)


def test_sidecar_in_the_baseline_fails(build: Build) -> None:
    sc = scenario(meshes=["none"])
    # a previous mesh's webhook left behind, injecting whatever the namespace's labels say
    platform, _, _ = build(sc, sidecar="istio-proxy", injected_namespaces={"mb-base-app"})
    with (
        pytest.raises(PlatformError, match="have a mesh proxy but the mesh is 'none'"),
        platform.deploy("none"),
    ):
        pass


def test_pods_never_ready_time_out_without_sleeping(build: Build) -> None:
    sc = scenario(meshes=["none"], kind={"ready_timeout_s": 30})
    platform, fake, _ = build(sc, app_ready=False)
    with (
        pytest.raises(TimeoutExpired, match=r"not Ready: frontend-0 \(ContainersNotReady\)"),
        platform.deploy("none"),
    ):
        pass
    assert any("delete namespace mb-base-load" in c for c in fake.calls())


def test_foreign_kind_cluster_is_refused_before_any_change(build: Build) -> None:
    sc = scenario(meshes=["istio"])
    nodes = {"meshbench-control-plane": {"kubernetes.io/os": "linux"}}  # no meshbench marker
    platform, fake, _ = build(sc, nodes=nodes, sidecar="istio-proxy")
    with (
        pytest.raises(PlatformError, match="meshbench did not create it"),
        platform.deploy("istio"),
    ):
        pass
    assert _mutations(fake.calls()) == []


def test_context_not_in_kubeconfig_is_refused(build: Build) -> None:
    sc = scenario(meshes=["none"], kind={"context": "prod-eu", "image": "registry/meshbench:1"})
    platform, fake, _ = build(sc)
    with (
        pytest.raises(PlatformError, match=r"'prod-eu'.*not in your kubeconfig"),
        platform.deploy("none"),
    ):
        pass
    assert fake.calls() == ["kubectl config get-contexts --output=name"]


def test_named_context_is_used_everywhere_and_never_built_into(build: Build) -> None:
    sc = scenario(meshes=["none"], kind={"context": "staging", "image": "registry/meshbench:1"})
    platform, fake, _ = build(sc)
    with platform.deploy("none"):
        pass
    calls = fake.calls()
    assert not any(c.startswith(("kind", "docker")) for c in calls)
    assert all("--context staging" in c for c in calls if c.startswith("kubectl --"))
    deploy = next(d for d in _applied(fake.stdin()) if d["kind"] == "Deployment")
    pod = deploy["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "registry/meshbench:1"
    assert "nodeSelector" not in pod  # other clusters have no meshbench node labels


def test_foreign_namespace_is_refused_and_never_removed(build: Build) -> None:
    sc = scenario(meshes=["istio"])
    platform, fake, _ = build(sc, namespaces={"istio-system": {"team": "platform"}})
    with (
        pytest.raises(PlatformError, match="'istio-system' exists and is not managed"),
        platform.deploy("istio"),
    ):
        pass
    assert _mutations(fake.calls()) == [
        "docker build --tag meshbench:0.1.0 --file "
        f"{platform.source_dir}/manifests/image/Dockerfile "
        "--build-arg BASE_IMAGE=debian:bookworm-slim "
        f"{platform.source_dir}",
        "kind load docker-image meshbench:0.1.0 --name meshbench",
    ]


@pytest.mark.parametrize(
    ("mesh_name", "ns"),
    [("none", "mb-base-app"), ("istio", "mb-app"), ("none-aa", "mb-base-aa-load")],
)
def test_foreign_app_namespace_is_refused(build: Build, mesh_name: str, ns: str) -> None:
    sc = scenario(meshes=["none", "istio"], aa_control=True)
    platform, fake, _ = build(sc, namespaces={ns: {}}, sidecar="istio-proxy")
    with (
        pytest.raises(PlatformError, match=f"'{ns}' exists and is not managed"),
        platform.deploy(mesh_name),
    ):
        pass
    assert not any(ns in c for c in fake.calls())


def test_cluster_created_from_the_checked_in_config_and_deleted_on_close(
    build: Build, repo: Path
) -> None:
    sc = scenario(meshes=["none"], kind={"keep_cluster": False})
    platform, fake, _ = build(sc, rules={"kind": [Rule("kind get clusters", stdout="other")]})
    platform.prepare()
    create = next(c for c in fake.calls() if c.startswith("kind create cluster"))
    config = Path(create.split("--config ")[1].split()[0])
    assert yaml.safe_load(config.read_text()) == yaml.safe_load(
        (repo / "manifests" / "kind" / "cluster.yaml").read_text()
    )
    assert f"--image {versions.NODE_IMAGE}" in create
    env = platform.environment().to_json()
    assert env["name"] == "kind"  # analysis and compare read the platform from here
    assert env["cluster_created_by_this_run"] is True
    assert env["kubernetes_server"] == versions.KUBERNETES_VERSION
    platform.close()
    assert fake.calls()[-1] == "kind delete cluster --name meshbench"


def test_kept_cluster_is_not_deleted(build: Build) -> None:
    sc = scenario(meshes=["none"], kind={"keep_cluster": True})
    platform, fake, _ = build(sc, rules={"kind": [Rule("kind get clusters", stdout="")]})
    platform.prepare()
    platform.close()
    assert not any(c.startswith("kind delete") for c in fake.calls())


def test_missing_helm_names_the_fix(build: Build) -> None:
    sc = scenario(meshes=["istio"])
    platform, _, _ = build(sc, tools=("kind", "kubectl", "docker"), sidecar="istio-proxy")
    with (
        pytest.raises(ToolMissingError, match="'helm' is not on PATH") as info,
        platform.deploy("istio"),
    ):
        pass
    assert info.value.fix and "helm.sh" in info.value.fix


def test_dry_run_platform_never_executes(build: Build) -> None:
    from meshbench.platforms.kind import create_platform

    p = create_platform(scenario(), dry_run=True)
    assert p.environment().to_json()["dry_run"] is True
    with pytest.raises(PlatformError, match="dry run"), p.deploy("none"):
        pass


def test_probe_job_targets_only_the_entry_service(build: Build) -> None:
    sc = scenario(meshes=["none"])
    platform, fake, _ = build(sc)
    with platform.deploy("none") as dep:
        dep.verify()
        assert dep.target_url() == "http://frontend.mb-base-app.svc.cluster.local:8080/"
    probe = next(d for d in _applied(fake.stdin()) if d["kind"] == "Job")
    command = probe["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[:3] == ["python", "-m", "meshbench.service.probe"]
    assert command[-1] == "http://frontend.mb-base-app.svc.cluster.local:8080/"
    assert mf.PROBE_REQUESTS == 20


def test_environment_records_versions_and_coordination(build: Build) -> None:
    sc = scenario(meshes=["none", "istio", "linkerd"])
    platform, _, _ = build(sc)
    env = platform.environment().to_json()
    assert env["versions"]["kubernetes_server"] == versions.KUBERNETES_VERSION
    assert env["versions"]["kind_client"] == "kind v0.33.0 go1.25 linux/amd64"
    assert env["versions"]["istio"] == "1.30.5" and "kuma" not in env["versions"]
    assert env["mtls_always_on"] == ["linkerd"]
    assert "no Locust master" in env["load_coordination"]
    assert env["nodes"]["meshbench-worker"] == {"meshbench.io/role": "app"}


def test_deploy_a_swept_topology_with_mtls_off(build: Build) -> None:
    from meshbench.config.topology import chain

    sc = scenario(meshes=["istio"])  # kind.mtls defaults to true
    platform, fake, _ = build(sc, sidecar="istio-proxy", services=["frontend", "backend"])
    with platform.deploy("istio", chain(2, payload_bytes=4096), mtls=False) as dep:
        assert set(dep.verify().sidecars) == {"frontend-0", "backend-0"}
        assert dep.scenario.kind.mtls is False
    docs = _applied(fake.stdin())
    deployments = [d["metadata"]["name"] for d in docs if d["kind"] == "Deployment"]
    assert deployments == ["frontend", "backend"]
    pa = next(d for d in docs if d["kind"] == "PeerAuthentication")
    assert pa["spec"]["mtls"]["mode"] == "DISABLE"
    assert platform.scenario.kind.mtls is True  # the scenario itself is unchanged


def test_aa_control_arm_deploys_like_none(build: Build) -> None:
    sc = scenario(meshes=["none"], aa_control=True)
    platform, fake, _ = build(sc)
    with platform.deploy("none-aa") as dep:
        assert dep.mesh == "none-aa"
        assert not any(dep.verify().sidecars.values())
    assert not any(c.startswith("helm") for c in fake.calls())


def test_plan_has_one_block_per_swept_deployment() -> None:
    sc = scenario(meshes=["none", "istio"], aa_control=True, sweep={"mtls": [True, False]})
    phases = list(dict.fromkeys(s.phase for s in plan_steps(sc)))
    for label in ("istio mtls", "istio plaintext"):
        assert f"mesh {label}" in phases and f"teardown {label}" in phases
        assert f"workload none-aa {label.split()[1]} beside {label}" in phases
    # each swept deployment of the mesh is an install window of its own
    a, b = sorted(("istio mtls", "istio plaintext"), key=lambda x: phases.index(f"mesh {x}"))
    assert phases.index(f"teardown {a}") < phases.index(f"mesh {b}")


# ----- placement and policy (issue 10) -------------------------------------------------

CP_SELECTOR = '{"node-role.kubernetes.io/control-plane":""}'


@pytest.mark.parametrize(
    ("mesh_name", "release", "prefix"),
    [
        ("istio", "istiod", ""),
        ("istio-ambient", "istiod", ""),
        ("linkerd", "linkerd-control-plane", ""),
        ("kuma", "kuma", "controlPlane."),
    ],
)
def test_control_planes_go_to_the_control_plane_node(
    build: Build, mesh_name: str, release: str, prefix: str
) -> None:
    sc = scenario(meshes=[mesh_name])
    platform, fake, _ = build(sc, sidecar=MESHES[mesh_name].sidecar)
    with platform.deploy(mesh_name):
        pass
    helm = next(c for c in fake.calls() if c.startswith(f"helm upgrade --install {release} "))
    assert f"--set-json {prefix}nodeSelector={CP_SELECTOR}" in helm
    assert (
        f'--set-json {prefix}tolerations=[{{"key":"node-role.kubernetes.io/control-plane"' in helm
    )
    # CoreDNS too: the app and load nodes carry only what is measured.
    calls = fake.calls()
    patch = next(c for c in calls if "patch deployment coredns" in c)
    assert CP_SELECTOR in patch
    assert calls.index(patch) < calls.index(helm)


def test_a_named_context_keeps_its_own_placement(build: Build) -> None:
    sc = scenario(meshes=["istio"], kind={"context": "staging", "image": "registry/meshbench:1"})
    platform, fake, _ = build(sc, sidecar="istio-proxy")
    with platform.deploy("istio"):
        pass
    assert not any("--set-json" in c or "coredns" in c for c in fake.calls())


def test_default_retries_timeouts_and_circuit_breakers_are_off(build: Build) -> None:
    sc = scenario(meshes=["istio", "kuma"])
    platform, fake, _ = build(sc, sidecar="istio-proxy")
    with platform.deploy("istio"):
        pass
    istiod = next(c for c in fake.calls() if c.startswith("helm upgrade --install istiod "))
    assert "--set meshConfig.defaultHttpRetryPolicy.attempts=0" in istiod
    kuma = MESHES["kuma"]
    assert "controlPlane.defaults.skipMeshCreation=true" in " ".join(
        kuma.install_steps(sc, platform.target)[-2].argv
    )
    mesh = next(o for o in kuma.policies(sc, platform.target) if o["kind"] == "Mesh")
    assert mesh["spec"]["skipCreatingInitialPolicies"] == ["*"]
    env = platform.environment().to_json()
    assert set(env["resilience_policies"]) == {"istio", "kuma"}
    assert "MeshRetry (5 HTTP retries)" in env["resilience_policies"]["kuma"]
    assert "attempts=0" in env["resilience_policies"]["istio"]
    assert env["kubernetes_tested_ranges"]["kuma"].startswith("1.31-1.34")
