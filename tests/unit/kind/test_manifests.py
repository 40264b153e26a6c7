"""Every rendered manifest validates against the Kubernetes schema of the pinned version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from meshbench.load.spec import LoadRequest
from meshbench.platforms.kind import manifests as mf
from meshbench.platforms.kind import versions
from meshbench.platforms.kind.meshes import MESHES
from meshbench.platforms.kind.reference import reference_files
from meshbench.platforms.kind.target import target_for
from meshbench.platforms.kind.unmeshed import unmeshed_namespace

from .fakes import scenario

kv = pytest.importorskip(
    "kubernetes_validate",
    reason="kubernetes-validate is not installed (pip install -e '.[dev]' brings it)",
)

DIAMOND = {
    "entry": "gateway",
    "port": 9000,
    "services": [
        {"name": "gateway", "calls": ["left", "right"], "payload_bytes": 100},
        {"name": "left", "calls": ["sink"], "work_ms": 1.5},
        {"name": "right", "calls": ["sink"]},
        {"name": "sink", "payload_bytes": 65536},
    ],
}

CORE_KINDS = {"Namespace", "Deployment", "Service", "Job"}


def validate(obj: dict[str, Any]) -> None:
    """Strict validation (unknown fields are errors) at the pinned Kubernetes version."""
    kv.validate(obj, versions.SCHEMA_VERSION, strict=True)


def _request(label: str = "t001-istio-100rps-r1") -> LoadRequest:
    return LoadRequest(target_url="http://x/", rate_rps=100, duration_s=30, warmup_s=5, label=label)


def all_objects() -> list[dict[str, Any]]:
    objs: list[dict[str, Any]] = []
    for topo, kind in (
        (None, {}),
        (DIAMOND, {"replicas": 3, "app_cpu_limit": "2", "load_workers": 4}),
        (None, {"context": "staging", "image": "reg.example/meshbench:1"}),
    ):
        sc = scenario(**({"topology": topo} if topo else {}), kind=kind)
        t = target_for(sc, Path("/tmp/unused"))
        objs += mf.workload(sc, t)
        for arm in ("none", "none-aa"):  # the baseline's own, opted out of every mesh
            b = t.for_mesh(arm)
            objs += [unmeshed_namespace(b.app_ns), unmeshed_namespace(b.load_ns)]
            objs += mf.workload(sc, b)
        for m in MESHES.values():
            objs.append(mf.namespace(t.app_ns, m.ns_labels, m.ns_annotations))
            objs.append(mf.load_job(sc, t, _request(), 1.7e9, m.client_annotations))
            objs.append(mf.probe_job(sc, t, "probe-x", m.client_annotations))
    return objs


def test_schema_version_is_the_pinned_minor() -> None:
    assert versions.KUBERNETES_VERSION.startswith("v" + versions.SCHEMA_VERSION.rsplit(".", 1)[0])
    assert versions.NODE_IMAGE.startswith(f"kindest/node:{versions.KUBERNETES_VERSION}@sha256:")


@pytest.mark.parametrize("mesh", sorted(m for m in MESHES if m != "none"))
def test_pinned_kubernetes_is_inside_every_meshs_tested_range(mesh: str) -> None:
    """Issue 10: the node image was 1.36, outside what Linkerd and Kuma 2.13 test."""
    key = MESHES[mesh].decl.version_key
    assert key is not None, f"{mesh} declares no pinned release"
    tested = versions.TESTED_KUBERNETES[key]
    assert tested.source, mesh
    assert tested.covers(versions.KUBERNETES_VERSION), (mesh, tested)
    assert not tested.covers("v1.36.4") or mesh.startswith("istio")


@pytest.mark.parametrize("obj", all_objects(), ids=lambda o: f"{o['kind']}/{o['metadata']['name']}")
def test_rendered_core_objects_validate(obj: dict[str, Any]) -> None:
    assert obj["kind"] in CORE_KINDS
    validate(obj)


def test_an_invalid_object_is_rejected() -> None:
    """The validator is really strict: a misspelt field fails (so passing means something)."""
    sc = scenario()
    dep = mf.app_deployment(sc, target_for(sc, Path("/x")), sc.topology.services[0])
    dep["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGett"] = {}
    with pytest.raises(kv.ValidationError):
        validate(dep)


def test_workload_follows_the_topology() -> None:
    sc = scenario(topology=DIAMOND, kind={"replicas": 2})
    t = target_for(sc, Path("/x"))
    objs = {(o["kind"], o["metadata"]["name"]): o for o in mf.workload(sc, t)}
    gw = objs[("Deployment", "gateway")]
    c = gw["spec"]["template"]["spec"]["containers"][0]
    assert c["command"] == ["python", "-m", "meshbench.service"]
    assert c["args"] == [
        "--name",
        "gateway",
        "--port",
        "9000",
        "--protocol",
        "http1",
        "--payload",
        "100:1",
        "--work-ms",
        "0",
        "--work-distribution",
        "constant",
        "--seed",
        str(sc.seed),
        "--call",
        "http://left:9000",
        "--call",
        "http://right:9000",
    ]
    assert c["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["resources"]["requests"] == {"cpu": "250m", "memory": "64Mi"}
    assert "cpu" not in c["resources"]["limits"]  # no CFS throttling by default
    assert c["imagePullPolicy"] == "Never"  # kind-loaded image
    assert gw["spec"]["replicas"] == 2
    assert gw["spec"]["template"]["spec"]["nodeSelector"] == {"meshbench.io/role": "app"}
    svc = objs[("Service", "sink")]
    assert svc["spec"]["ports"][0]["name"] == "http"  # Istio protocol selection
    assert svc["spec"]["ports"][0]["appProtocol"] == "http"  # Kuma protocol
    assert len(objs) == 8


def test_load_job_runs_every_worker_on_one_schedule() -> None:
    sc = scenario(kind={"load_workers": 3})
    t = target_for(sc, Path("/x"))
    req = _request("T007-Kuma 300rps")
    job = mf.load_job(sc, t, req, 1_700_000_000.25, {})
    assert job["metadata"]["name"] == "load-t007-kuma-300rps"
    spec = job["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 3, 3)
    assert spec["backoffLimit"] == 0
    c = spec["template"]["spec"]["containers"][0]
    script = c["command"][2]
    assert "--worker-count 3" in script and "JOB_COMPLETION_INDEX" in script
    assert "python -m meshbench.platforms.kind.bundle /out" in script
    env = {e["name"]: e["value"] for e in c["env"]}
    assert env["MB_START_AT"] == "1700000000.250"
    assert mf.request_of(job) == req
    assert spec["template"]["spec"]["nodeSelector"] == {"meshbench.io/role": "load"}


def test_checked_in_manifests_match_what_meshbench_renders(repo: Path) -> None:
    for rel, text in reference_files().items():
        path = repo / "manifests" / rel
        assert path.exists(), f"{path} missing: python -m meshbench.platforms.kind.reference"
        assert path.read_text() == text, f"{path} is stale: regenerate it"


def test_istio_mtls_settings() -> None:
    on = scenario()
    t = target_for(on, Path("/x"))
    objs = MESHES["istio"].policies(on, t)
    assert [o["spec"]["mtls"]["mode"] for o in objs] == ["STRICT", "PERMISSIVE"]
    meshed = scenario(client_sidecar=True)
    assert [o["spec"]["mtls"]["mode"] for o in MESHES["istio"].policies(meshed, t)] == ["STRICT"]
    off = scenario(kind={"mtls": False})
    kinds = {o["kind"]: o["spec"] for o in MESHES["istio"].policies(off, t)}
    assert kinds["PeerAuthentication"]["mtls"]["mode"] == "DISABLE"
    assert kinds["DestinationRule"] == {
        "host": "*.mb-app.svc.cluster.local",
        "trafficPolicy": {"tls": {"mode": "DISABLE"}},
    }


def test_kuma_mtls_settings() -> None:
    t = target_for(scenario(), Path("/x"))
    on = MESHES["kuma"].policies(scenario(client_sidecar=True), t)
    mesh = next(o for o in on if o["kind"] == "Mesh")
    assert mesh["spec"]["mtls"]["backends"] == [
        {"name": "ca-1", "type": "builtin", "mode": "STRICT"}
    ]
    assert any(o["kind"] == "MeshTrafficPermission" for o in on)
    off = MESHES["kuma"].policies(scenario(kind={"mtls": False}), t)
    assert [o["kind"] for o in off] == ["Mesh"] and "mtls" not in off[0]["spec"]


def test_linkerd_says_mtls_is_always_on() -> None:
    desc = MESHES["linkerd"].mtls_description(scenario(kind={"mtls": False}))
    assert "always on" in desc and "cannot turn it off" in desc
    assert MESHES["linkerd"].mtls_always_on
    assert MESHES["linkerd"].policies(scenario(), target_for(scenario(), Path("/x"))) == []
