"""Cost from the kubelet summary API, sidecar counters, accounting and waits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from meshbench.errors import PlatformError, TimeoutExpired
from meshbench.platforms.kind.deployment import container_role
from meshbench.platforms.kind.meshes import MESHES
from meshbench.platforms.kind.sidecar_stats import inbound_requests, parse_samples
from meshbench.platforms.kind.usage import (
    PhaseUsage,
    Sample,
    samples_from_summaries,
    snapshot_from_summaries,
)
from meshbench.platforms.kind.waits import wait_for

from .conftest import Build
from .fakes import no_sleep_clock, scenario

SUMMARY = {
    "node": {"nodeName": "meshbench-worker"},
    "pods": [
        {
            "podRef": {"name": "frontend-0", "namespace": "mb-app"},
            "containers": [
                {
                    "name": "app",
                    "cpu": {"usageCoreNanoSeconds": 2_500_000_000},
                    "memory": {"rssBytes": 50_000_000, "workingSetBytes": 60_000_000},
                },
                {
                    "name": "istio-proxy",
                    "cpu": {"usageCoreNanoSeconds": 1_000_000_000},
                    "memory": {"workingSetBytes": 40_000_000},
                },
            ],
        },
        {
            "podRef": {"name": "istiod-1", "namespace": "istio-system"},
            "containers": [{"name": "discovery", "cpu": {"usageCoreNanoSeconds": 9}}],
        },
        {
            "podRef": {"name": "load-t1-0-x", "namespace": "mb-load"},
            "containers": [{"name": "loadgen", "cpu": {"usageCoreNanoSeconds": 7_000_000_000}}],
        },
    ],
}


def _role(ns: str, pod: str, container: str) -> str | None:
    return container_role(container) if ns in ("mb-app", "mb-load") else None


def test_usage_from_the_kubelet_summary() -> None:
    snap = snapshot_from_summaries([SUMMARY], _role, lambda: 5.0)
    assert snap.taken_at_s == 5.0
    assert snap.sampled_at_s["frontend-0/app"] == 5.0  # no sample time given: the read's
    assert snap.cpu_s == {"frontend-0/app": 2.5, "frontend-0/sidecar": 1.0, "load-t1-0-x/load": 7.0}
    assert snap.rss_bytes == {"frontend-0/app": 50_000_000, "frontend-0/sidecar": 40_000_000}


def test_deployment_usage_reads_the_nodes_of_its_pods(build: Build) -> None:
    sc = scenario(meshes=["istio"])
    platform, _, _ = build(sc, sidecar="istio-proxy", summaries={"meshbench-worker": SUMMARY})
    with platform.deploy("istio") as dep:
        snap = dep.usage()
    assert snap.cpu_s["frontend-0/sidecar"] == 1.0
    assert "istiod-1/discovery" not in snap.cpu_s  # only meshbench's namespaces


def test_prometheus_parsing_and_inbound_counters() -> None:
    text = (
        "# HELP istio_requests_total x\n"
        'istio_requests_total{reporter="destination",response_code="200"} 40\n'
        'istio_requests_total{reporter="destination",response_code="503"} 2\n'
        'istio_requests_total{reporter="source",response_code="200"} 1000\n'
        "garbage line\n"
        "envoy_server_live 1 1700000000000\n"
    )
    samples = parse_samples(text)
    assert ("envoy_server_live", {}, 1.0) in samples
    stats = MESHES["istio"].stats
    assert stats is not None
    assert inbound_requests(text, stats, 8080) == 42
    kuma = MESHES["kuma"].stats
    assert kuma is not None
    kuma_text = (
        'envoy_cluster_upstream_rq_total{envoy_cluster_name="localhost_8080"} 7\n'
        'envoy_cluster_upstream_rq_total{envoy_cluster_name="backend_svc_8080"} 99\n'
    )
    assert inbound_requests(kuma_text, kuma, 8080) == 7


def test_accounting_flags_a_service_whose_sidecar_saw_too_little(build: Build) -> None:
    sc = scenario(meshes=["linkerd"])
    platform, _, _ = build(sc, sidecar="linkerd-proxy")
    with platform.deploy("linkerd") as dep:
        before = dep.sidecar_stats()
        assert set(before) == {"frontend-0", "middle-0", "backend-0"}
        after = {p: {"inbound_requests": c["inbound_requests"] + 100} for p, c in before.items()}
        assert dep.check_accounting(before, after, 100) == []
        after["middle-0"]["inbound_requests"] -= 1
        assert dep.check_accounting(before, after, 100) == [
            "middle sidecars counted 99 inbound requests, expected at least 100"
        ]
        after["middle-0"]["inbound_requests"] += 5  # probes through the proxy: tolerated
        assert dep.check_accounting(before, after, 100) == []


def test_no_mesh_has_no_sidecar_stats(build: Build) -> None:
    platform, _, _ = build(scenario(meshes=["none"]))
    with platform.deploy("none") as dep:
        assert dep.sidecar_stats() == {}
        assert dep.check_accounting({}, {}, 10) == []


def test_wait_for_polls_until_true_and_times_out_with_the_reason() -> None:
    clock = no_sleep_clock()
    answers = iter(["1/3 ready", "2/3 ready", None])
    wait_for(lambda: next(answers), timeout_s=10, what="pods", fix="f", clock=clock)
    assert clock.now() == 2.0  # two 1 s polls, no real sleep
    with pytest.raises(TimeoutExpired, match=r"pods: not true after 5 s \(still 1/3\)") as e:
        wait_for(lambda: "still 1/3", timeout_s=5, what="pods", fix="look", clock=clock)
    assert e.value.fix == "look"


# ----- proof: counters that move only with traffic (issue 10) -------------------------


def test_istio_proof_holds_when_the_counter_appears_only_after_traffic(build: Build) -> None:
    """istio_requests_total is absent until a request crosses the sidecar: absent is 0."""
    sc = scenario(meshes=["istio"])
    platform, _, api = build(sc, sidecar="istio-proxy")
    with platform.deploy("istio") as dep:
        assert "istio_requests_total" not in api.pod_proxy_get("mb-app", "frontend-0", 15090, "/")
        proof = dep.verify()
    assert proof.crossed_sidecars is True
    assert proof.details["inbound_requests_delta"] == {
        "frontend-0": 20,
        "middle-0": 20,
        "backend-0": 20,
    }
    assert "counters" not in proof.details


@pytest.mark.parametrize("mesh_name", [n for n, m in MESHES.items() if m.sidecar])
def test_one_quiet_sidecar_fails_verify(build: Build, mesh_name: str) -> None:
    sidecar = MESHES[mesh_name].sidecar
    platform, fake, _ = build(
        scenario(meshes=[mesh_name]), sidecar=sidecar, quiet_pods={"middle-0"}
    )
    with (
        pytest.raises(PlatformError, match=r"did not reach the proxies of middle \("),
        platform.deploy(mesh_name) as dep,
    ):
        dep.verify()
    assert any("delete namespace mb-app" in c for c in fake.calls())  # still cleaned up


def test_a_counter_missing_even_after_traffic_is_reported_not_proven(build: Build) -> None:
    sc = scenario(meshes=["istio"])
    platform, _, _ = build(
        sc, sidecar="istio-proxy", quiet_pods={"frontend-0", "middle-0", "backend-0"}
    )
    with platform.deploy("istio") as dep:
        proof = dep.verify()
    assert proof.crossed_sidecars is False
    assert "not found on any proxy even after 20 probe requests" in proof.details["counters"]


def test_counters_do_not_move_without_traffic(build: Build) -> None:
    """The fake itself: reading a counter is not traffic (the old fake grew on every read)."""
    platform, _, _ = build(scenario(meshes=["kuma"]), sidecar="kuma-sidecar")
    with platform.deploy("kuma") as dep:
        first = dep.sidecar_stats()
        assert (
            dep.sidecar_stats()
            == first
            == {p: {"inbound_requests": 0} for p in ("frontend-0", "middle-0", "backend-0")}
        )


def test_ambient_proof_and_cost_come_from_ztunnel(build: Build) -> None:
    sc = scenario(meshes=["istio-ambient"])
    summary = {
        "pods": [
            {
                "podRef": {"name": "ztunnel-a", "namespace": "istio-system"},
                "containers": [
                    {
                        "name": "istio-proxy",
                        "cpu": {"usageCoreNanoSeconds": 3_000_000_000},
                        "memory": {"workingSetBytes": 20_000_000},
                    }
                ],
            },
            {
                "podRef": {"name": "istiod-1", "namespace": "istio-system"},
                "containers": [
                    {"name": "discovery", "cpu": {"usageCoreNanoSeconds": 9_000_000_000}}
                ],
            },
            {
                "podRef": {"name": "frontend-0", "namespace": "mb-app"},
                "containers": [{"name": "app", "cpu": {"usageCoreNanoSeconds": 1_000_000_000}}],
            },
        ]
    }
    platform, _, _ = build(sc, summaries={"meshbench-worker": summary})
    with platform.deploy("istio-ambient") as dep:
        proof = dep.verify()
        snap = dep.usage()
        stats = dep.sidecar_stats()
        assert dep.check_accounting(stats, stats, 100) == []  # connections are not requests
    assert proof.crossed_sidecars is True
    assert not any(proof.sidecars.values())
    assert proof.details["inbound_connections_delta"]["ztunnel-a/middle"] == 20
    assert snap.cpu_s == {"ztunnel-a/proxy": 3.0, "frontend-0/app": 1.0}  # istiod: not data path
    assert stats["ztunnel-a/backend"] == {"inbound_connections": 20}


def test_ambient_service_bypassing_ztunnel_fails_verify(build: Build) -> None:
    platform, _, _ = build(scenario(meshes=["istio-ambient"]), quiet_pods={"backend-0"})
    with (
        pytest.raises(PlatformError, match="proxies of backend"),
        platform.deploy("istio-ambient") as dep,
    ):
        dep.verify()


# ----- CPU over the measured phase, from the kubelet's own sample times ----------------


def _sample(cpu_s: float, at_s: float) -> Sample:
    return Sample(cpu_s=cpu_s, at_s=at_s)


def test_phase_usage_keeps_samples_inside_the_phase() -> None:
    phase = PhaseUsage(start_s=100.0, end_s=160.0)
    # cached samples every 10 s at 95, 105, ..., 165; 1 core inside, 0.1 outside
    cpu = {95.0: 0.0, 105.0: 0.55}
    for t in range(115, 166, 10):
        cpu[float(t)] = cpu[float(t) - 10] + (1.0 if t <= 160 else 0.55) * 10
    for at_s in sorted(cpu):
        phase.add({"p/sidecar": _sample(cpu[at_s], at_s)})
    before, after = phase.snapshots()
    assert (before.sampled_at_s["p/sidecar"], after.sampled_at_s["p/sidecar"]) == (105.0, 155.0)
    assert after.cores_since(before, "sidecar") == pytest.approx(1.0)
    assert after.note == ""


def test_phase_shorter_than_the_sample_period_is_flagged() -> None:
    phase = PhaseUsage(start_s=100.0, end_s=105.0)
    phase.add({"p/app": _sample(1.0, 95.0), "q/app": _sample(2.0, 95.0)})
    phase.add({"p/app": _sample(2.0, 108.0)})
    before, after = phase.snapshots()
    assert after.cores_since(before, "app") == pytest.approx(1.0 / 13.0)
    assert "shorter than the kubelet's sample period" in after.note
    assert "p/app from samples outside the measured phase" in after.note
    assert "no CPU for q/app" in after.note


def test_kubelet_sample_time_is_read() -> None:
    summary = {
        "pods": [
            {
                "podRef": {"name": "a", "namespace": "mb-app"},
                "containers": [
                    {
                        "name": "app",
                        "cpu": {"time": "2026-11-01T10:00:05Z", "usageCoreNanoSeconds": 10},
                    }
                ],
            }
        ]
    }
    got = samples_from_summaries([summary], _role, read_at_s=0.0)
    assert got["a/app"].at_s == datetime(2026, 11, 1, 10, 0, 5, tzinfo=UTC).timestamp()


def test_a_failed_probe_job_ends_the_wait_at_once_with_its_logs(build: Build) -> None:
    """Issue 27: `kubectl wait --for=condition=Complete` sat out 150 s on a failed Job."""
    platform, fake, _ = build(scenario(meshes=["istio"]), sidecar="istio-proxy", probe_fails=True)
    with (
        pytest.raises(
            PlatformError,
            match=r"istio: probe Job mb-load/probe-istio-1 failed: probe-istio-1-x \(Error\): "
            r".*ConnectionRefusedError",
        ) as e,
        platform.deploy("istio") as dep,
    ):
        dep.verify()
    assert platform.clock.now() < 1.0  # not a poll more than needed, let alone 150 s
    assert e.value.fix is not None and "logs" in e.value.fix
    assert any("delete job probe-istio-1" in c for c in fake.calls())  # still removed
