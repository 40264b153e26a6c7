"""The --dry-run plan and `meshbench doctor`."""

from __future__ import annotations

import json
import time
from itertools import pairwise
from pathlib import Path

import pytest

from meshbench.config.scenario import load_scenario
from meshbench.planning.plan import plan_trials
from meshbench.planning.windows import in_windows, window_of
from meshbench.platforms.kind import format_doctor, format_plan, plan_steps
from meshbench.platforms.kind.doctor import PROBES, Check, _Probe, doctor, inotify_check, ready
from meshbench.platforms.kind.versions import ISTIO_VERSION, KUMA_VERSION, LINKERD_CHART_VERSION

from .fakes import FakeBin, Rule, apply_env


def _inotify(tmp_path: Path, watches: int, instances: int) -> Path:
    """A stand-in for /proc/sys/fs/inotify with these limits."""
    d = tmp_path / "inotify"
    d.mkdir(exist_ok=True)
    (d / "max_user_watches").write_text(f"{watches}\n")
    (d / "max_user_instances").write_text(f"{instances}\n")
    return d


def _kubectl(version: str) -> str:
    return json.dumps({"clientVersion": {"gitVersion": version}})


@pytest.fixture
def kind_default(repo: Path):  # type: ignore[no-untyped-def]
    return load_scenario(repo / "scenarios" / "kind-default.yaml")


def test_kind_default_covers_the_four_meshes(kind_default) -> None:  # type: ignore[no-untyped-def]
    assert kind_default.platform == "kind"
    assert kind_default.meshes == ("none", "istio", "linkerd", "kuma")
    assert kind_default.has_baseline


def test_plan_orders_every_step(kind_default) -> None:  # type: ignore[no-untyped-def]
    steps = plan_steps(kind_default)
    lines = [" ".join(s.argv) for s in steps]

    def first(prefix: str) -> int:
        return next(i for i, line in enumerate(lines) if line.startswith(prefix))

    assert first("kind create cluster") < first("docker build") < first("kind load docker-image")
    # Meshes in the orchestrator's order (first appearance in the seeded trial plan); each
    # installed, used and removed before the next one starts.
    order = list(dict.fromkeys(t.mesh for t in plan_trials(kind_default)))
    assert sorted(order) == ["istio", "kuma", "linkerd", "none"]
    install = {
        "istio": f"helm upgrade --install istio-base istio/base --version {ISTIO_VERSION}",
        "linkerd": f"helm upgrade --install linkerd-crds linkerd-edge/linkerd-crds "
        f"--version {LINKERD_CHART_VERSION}",
        "kuma": f"helm upgrade --install kuma kuma/kuma --version {KUMA_VERSION}",
    }
    removal = {
        "istio": "helm uninstall istio-base",
        "linkerd": "helm uninstall linkerd-crds",
        "kuma": "helm uninstall kuma",
    }
    meshed = [m for m in order if m != "none"]
    assert first("kind load") < min(first(install[m]) for m in meshed)
    for a, b in pairwise(meshed):
        assert first(install[a]) < first(removal[a]) < first(install[b])
    assert first("helm upgrade --install istio-base") < first("helm upgrade --install istiod")
    phases = [s.phase for s in steps]
    # Issue 10: the baseline runs inside every mesh's install window, in its own namespaces,
    # deployed after the mesh and removed before it; never in a window of its own.
    assert "workload none" not in phases and "teardown none" not in phases
    for mesh in meshed:
        beside = f"none beside {mesh}"
        index = {
            p: phases.index(p)
            for p in (
                f"mesh {mesh}",
                f"workload {mesh}",
                f"workload {beside}",
                f"window {mesh}",
                f"teardown {beside}",
                f"teardown {mesh}",
            )
        }
        assert list(index.values()) == sorted(index.values()), index
        for label in (mesh, beside):
            assert any(p.startswith(f"load {label} (each of 6 trial(s)") for p in phases)
        base = [s for s in steps if s.phase == f"workload {beside}"]
        assert all("mb-app" not in " ".join(s.argv) for s in base)
        assert any(
            "Namespace/mb-base-app, Namespace/mb-base-load" in s.command_line() for s in base
        )
    for line in lines:
        if line.startswith("kubectl") and "get-contexts" not in line:
            assert line.startswith("kubectl --context kind-meshbench ")
    assert not any(line.startswith("kind delete") for line in lines)  # keep_cluster: true


def test_plan_shows_the_interleaving_in_each_window(kind_default) -> None:  # type: ignore[no-untyped-def]
    windowed = in_windows(plan_trials(kind_default))
    windows = [s for s in plan_steps(kind_default) if s.phase.startswith("window ")]
    assert [s.phase for s in windows] == [
        "window " + m for m in dict.fromkeys(window_of(t) for t in windowed)
    ]
    for step in windows:
        mesh = step.phase.removeprefix("window ")
        trials = [t for t in windowed if window_of(t) == mesh]
        assert len(trials) == 12  # 6 of the mesh, the 6 baseline trials again beside it
        order = " | ".join(
            f"repeat {r}: " + ", ".join(t.mesh for t in trials if t.repeat == r) for r in (1, 2, 3)
        )
        assert step.what.endswith(f"({order})")
        assert {t.mesh for t in trials if t.repeat == 1} == {"none", mesh}


def test_plan_text(kind_default) -> None:  # type: ignore[no-untyped-def]
    text = format_plan(plan_steps(kind_default))
    assert text.startswith("== cluster ==\n  1. list kind clusters\n     $ kind get clusters\n")
    assert "<<< 6 object(s): Deployment/frontend, Service/frontend" in text
    assert "[meshbench] generate a trust anchor and an issuer (ECDSA P-256" in text
    assert "linkerd check --context kind-meshbench" in text and "[optional" in text
    assert "== teardown kuma ==" in text


def test_plan_deletes_a_cluster_it_does_not_keep(kind_default) -> None:  # type: ignore[no-untyped-def]
    sc = kind_default.model_copy(
        update={"kind": kind_default.kind.model_copy(update={"keep_cluster": False})}
    )
    assert " ".join(plan_steps(sc)[-1].argv) == "kind delete cluster --name meshbench"


def test_doctor_names_versions_and_one_fix_per_missing_tool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeBin(
        tmp_path / "bin",
        {
            "docker": [
                Rule(
                    "docker info*",
                    1,
                    stderr="Cannot connect to the Docker daemon at "
                    "unix:///var/run/docker.sock. Is the docker daemon running?",
                )
            ],
            "kubectl": [
                Rule("kubectl version*", stdout='{"clientVersion": {"gitVersion": "v1.35.2"}}')
            ],
            "helm": [Rule("helm version*", stdout="v3.22.0+g1234567")],
            "linkerd": [Rule("linkerd version*", stdout="edge-26.9.1")],
        },
    )
    fake.install(("docker", "kubectl", "helm", "linkerd"))
    apply_env(monkeypatch, fake)
    checks = {c.name: c for c in doctor(sysctl_dir=_inotify(tmp_path, 524288, 512))}
    assert checks["kubectl"].ok and checks["kubectl"].version == "v1.35.2"
    assert checks["helm"].version == "v3.22.0+g1234567"
    assert checks["linkerd"].ok and checks["linkerd"].version == "edge-26.9.1"
    assert (
        not checks["docker engine"].ok
        and "Is the docker daemon running" in checks["docker engine"].detail
    )
    assert not checks["kind"].ok and checks["kind"].required
    assert not checks["istioctl"].ok and not checks["istioctl"].required
    assert not ready(list(checks.values()))
    text = format_doctor(list(checks.values()))
    assert "kind platform: NOT READY: missing docker engine, kind" in text
    missing_clis = {p.tool for p in PROBES if not p.required} - {"linkerd"}
    assert {"istioctl", "kumactl"} <= missing_clis
    assert text.count("fix:") == 2 + len(missing_clis)  # docker engine, kind, the mesh CLIs
    assert "start the Docker engine" in text
    assert "go install sigs.k8s.io/kind@v0.33.0" in text


def test_doctor_all_present(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeBin(
        tmp_path / "bin",
        {
            "docker": [Rule("docker info*", stdout="29.9.2")],
            "kind": [Rule("kind version", stdout="kind v0.33.0 go1.25.1 linux/amd64")],
            "kubectl": [Rule("kubectl version*", stdout=_kubectl("v1.34.11"))],
            "helm": [Rule("helm version*", stdout="v3.19.0+g3d8990f")],
        },
    )
    fake.install()
    apply_env(monkeypatch, fake)
    checks = doctor(sysctl_dir=_inotify(tmp_path, 1048576, 8192))
    assert ready(checks)
    assert {c.name: c.version for c in checks}["kind"] == "v0.33.0"
    assert format_doctor(checks).splitlines()[-2] == "kind platform: ready"


def _versions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kubectl: str, helm: str
) -> dict[str, Check]:
    fake = FakeBin(
        tmp_path / "bin",
        {
            "docker": [Rule("docker info*", stdout="29.9.2")],
            "kind": [Rule("kind version", stdout="kind v0.33.0 go1.25.1 linux/amd64")],
            "kubectl": [Rule("kubectl version*", stdout=_kubectl(kubectl))],
            "helm": [Rule("helm version*", stdout=helm)],
        },
    )
    fake.install()
    apply_env(monkeypatch, fake)
    return {c.name: c for c in doctor(sysctl_dir=_inotify(tmp_path, 524288, 512))}


@pytest.mark.parametrize(
    ("kubectl", "ok"),
    [
        ("v1.32.9", False),
        ("v1.33.0", True),
        ("v1.34.11", True),
        ("v1.35.4", True),
        ("v1.36.2", False),
        ("v2.34.0", False),
    ],
)
def test_doctor_holds_kubectl_to_one_minor_of_the_pinned_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kubectl: str, ok: bool
) -> None:
    check = _versions(tmp_path, monkeypatch, kubectl, "v3.19.0+g3d8990f")["kubectl"]
    assert check.ok is ok
    assert check.version == kubectl
    if not ok:
        assert "outside the supported skew" in check.detail and "1.33-1.35" in check.detail
        assert check.fix is not None and "install kubectl v1.34" in check.fix


@pytest.mark.parametrize(
    ("helm", "problem"),
    [
        ("v3.19.0+g3d8990f", None),
        ("v3.14.0", None),
        ("v3.13.3+gc8b9489", "older than v3.14.0"),
        ("v4.0.1+g12500dd", "Helm 4 is not supported"),
    ],
)
def test_doctor_accepts_helm_3_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, helm: str, problem: str | None
) -> None:
    checks = _versions(tmp_path, monkeypatch, "v1.34.11", helm)
    assert checks["helm"].ok is (problem is None)
    if problem is not None:
        assert problem in checks["helm"].detail
        assert checks["helm"].fix is not None and "Helm 3" in checks["helm"].fix
        text = format_doctor(list(checks.values()))
        assert "kind platform: NOT READY: to fix: helm" in text
        assert not ready(list(checks.values()))


def test_doctor_checks_the_inotify_limits_kind_names(tmp_path: Path) -> None:
    low = inotify_check(_inotify(tmp_path, 8192, 128))
    assert not low.ok and low.required
    assert low.version == "max_user_watches 8192, max_user_instances 128"
    assert "max_user_watches < 524288" in low.detail and "max_user_instances < 512" in low.detail
    assert low.fix is not None
    assert "sysctl fs.inotify.max_user_watches=524288 fs.inotify.max_user_instances=512" in (
        low.fix
    )
    assert inotify_check(_inotify(tmp_path, 524288, 512)).ok
    elsewhere = inotify_check(tmp_path / "absent")  # macOS: the nodes' VM is not this host
    assert elsewhere.ok and "not checked" in elsewhere.detail


def test_doctor_reports_a_tool_that_hangs_and_goes_on(tmp_path: Path) -> None:
    """A CLI that never answers is killed at the limit and reported, named with the limit;
    the checks after it still run."""
    hang = tmp_path / "hangs"
    hang.write_text("#!/bin/sh\nexec sleep 30\n")
    hang.chmod(0o755)
    probes = [_Probe("hangs", str(hang), (str(hang), "version"), True)]
    started = time.monotonic()
    checks = doctor(probes=probes, timeout_s=0.5, sysctl_dir=_inotify(tmp_path, 524288, 512))
    assert time.monotonic() - started < 10  # killed at the limit, not waited for
    assert [c.name for c in checks] == ["hangs", "inotify limits"]
    assert not checks[0].ok and "did not finish within 0.5 s" in checks[0].detail
