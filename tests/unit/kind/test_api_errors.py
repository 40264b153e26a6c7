"""A failed Kubernetes API read is data, not the end of the run (issue 27).

The real client turns every API and transport error into ``ReadFailed``; the fake API
fails the next N calls of a method the same way (``FakeKubeApi.failing``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from meshbench.config.scenario import Scenario
from meshbench.errors import DeploymentBroken, ReadFailed
from meshbench.load.spec import LoadRequest, LoadSummary
from meshbench.planning.plan import Trial, plan_trials
from meshbench.platforms.kind import bundle
from meshbench.platforms.kind.deployment import KindDeployment
from meshbench.runner.run import run_trial

from .conftest import Build
from .fakes import START_EPOCH_S, FakeKubeApi, scenario
from .test_load import write_worker


def _istio_trial(sc: Scenario) -> Trial:
    return next(t for t in plan_trials(sc) if t.mesh == "istio")


def _logs(tmp_path: Path) -> dict[int, str]:
    write_worker(tmp_path / "src0", 0, START_EPOCH_S)
    return {0: bundle.pack(tmp_path / "src0")}


def _fail_after_load(dep: KindDeployment, api: FakeKubeApi, method: str) -> None:
    """Make ``method`` fail once, right after the load (while a sidecar restarts)."""
    run_load = dep.run_load

    def then_fail(request: LoadRequest, out_dir: Path) -> LoadSummary:
        summary = run_load(request, out_dir)
        api.failing[method] = 1
        return summary

    dep.run_load = then_fail  # type: ignore[method-assign]


def test_a_sidecar_read_failing_after_the_load_makes_the_trial_invalid_with_the_cause(
    build: Build, tmp_path: Path
) -> None:
    sc = scenario(meshes=["istio"], kind={"load_workers": 1})
    trial = _istio_trial(sc)
    platform, _, api = build(sc, sidecar="istio-proxy", worker_logs=_logs(tmp_path))
    with platform.deploy("istio") as dep:
        _fail_after_load(dep, api, "pod_proxy_get")
        row = run_trial(sc, dep, trial, tmp_path / "run")
    assert "sidecar counters unreadable after the trial" in row.invalid_reason
    assert "503 Service Unavailable" in row.invalid_reason
    assert row.requests == 500  # what was measured is kept
    assert (tmp_path / "run" / row.histogram).exists()


def test_a_usage_read_failing_after_the_load_makes_the_trial_invalid_with_the_cause(
    build: Build, tmp_path: Path
) -> None:
    sc = scenario(meshes=["istio"], kind={"load_workers": 1})
    trial = _istio_trial(sc)
    platform, _, api = build(sc, sidecar="istio-proxy", worker_logs=_logs(tmp_path))
    with platform.deploy("istio") as dep:
        _fail_after_load(dep, api, "node_summary")
        row = run_trial(sc, dep, trial, tmp_path / "run")
    assert "container usage unreadable after the trial" in row.invalid_reason
    assert "read stats summary of node" in row.invalid_reason


def test_an_api_error_before_the_trial_takes_the_redeploy_path(
    build: Build, tmp_path: Path
) -> None:
    sc = scenario(meshes=["istio"], kind={"load_workers": 1})
    trial = _istio_trial(sc)
    platform, _, api = build(sc, sidecar="istio-proxy", worker_logs=_logs(tmp_path))
    with platform.deploy("istio") as dep:
        api.failing["pod_proxy_get"] = 1
        with pytest.raises(DeploymentBroken, match=r"stopped answering before .*503"):
            run_trial(sc, dep, trial, tmp_path / "run")
        # the next attempt, after the redeploy, measures (the fake workers' own data
        # breaks other rules: only the reads matter here)
        row = run_trial(sc, dep, trial, tmp_path / "run")
    assert row.requests == 500
    assert "unreadable" not in row.invalid_reason


def test_a_pod_not_ready_between_trials_is_a_problem_and_so_is_an_unreadable_one(
    build: Build,
) -> None:
    sc = scenario(meshes=["linkerd"])
    platform, _, api = build(sc, sidecar="linkerd-proxy")
    with platform.deploy("linkerd") as dep:
        assert dep.problems() == []
        api.app_ready = False
        assert dep.problems() == [
            f"linkerd: pod {p}-0 not Ready (ContainersNotReady)"
            for p in ("frontend", "middle", "backend")
        ]
        api.app_ready = True
        api.services = ["frontend", "middle"]  # backend's pod is gone
        assert dep.problems() == ["linkerd: 2/3 app pods exist"]
        api.failing["list_pods"] = 1
        [problem] = dep.problems()
        assert problem.startswith("linkerd: app pods unreadable (Kubernetes API: list pods")


def test_a_failed_poll_or_log_read_during_the_load_is_read_again(
    build: Build, tmp_path: Path
) -> None:
    sc = scenario(meshes=["none"], kind={"load_workers": 1})
    platform, _, api = build(sc, worker_logs=_logs(tmp_path))
    request = LoadRequest(target_url="http://x/", rate_rps=50, duration_s=2, label="t1")
    with platform.deploy("none") as dep:
        api.failing.update(list_pods=1, pod_log=1, node_summary=1)
        summary = dep.run_load(request, tmp_path / "trial")
        measured = dep.measured_usage()
    assert summary.requests == 500
    assert api.failing == {"list_pods": 0, "pod_log": 0, "node_summary": 0}
    assert measured is not None
    assert "1 read(s) of the kubelet summary failed during the phase" in measured[1].note


def test_the_real_client_translates_api_errors_to_read_failed() -> None:
    from kubernetes.client.exceptions import ApiException

    from meshbench.platforms.kind.kubeapi import _translated

    with (
        pytest.raises(ReadFailed, match="list pods failed: 503 Service Unavailable"),
        _translated("list pods"),
    ):
        raise ApiException(status=503, reason="Service Unavailable")
