"""Cost from the kubelet summary API, sidecar counters, accounting and waits."""

from __future__ import annotations

import pytest

from meshbench.errors import TimeoutExpired
from meshbench.platforms.kind.meshes import MESHES
from meshbench.platforms.kind.platform import container_role
from meshbench.platforms.kind.sidecar_stats import inbound_requests, parse_samples
from meshbench.platforms.kind.usage import snapshot_from_summaries
from meshbench.platforms.kind.waits import wait_for

from .conftest import Build
from .fakes import no_sleep_clock, scenario

SUMMARY = {
    "node": {"nodeName": "meshbench-worker"},
    "pods": [
        {
            "podRef": {"name": "frontend-0", "namespace": "mb-app"},
            "containers": [
                {"name": "app", "cpu": {"usageCoreNanoSeconds": 2_500_000_000},
                 "memory": {"rssBytes": 50_000_000, "workingSetBytes": 60_000_000}},
                {"name": "istio-proxy", "cpu": {"usageCoreNanoSeconds": 1_000_000_000},
                 "memory": {"workingSetBytes": 40_000_000}},
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


def test_usage_from_the_kubelet_summary() -> None:
    snap = snapshot_from_summaries([SUMMARY], ["mb-app", "mb-load"], container_role, lambda: 5.0)
    assert snap.taken_at_s == 5.0
    assert snap.cpu_s == {"frontend-0/app": 2.5, "frontend-0/sidecar": 1.0, "load-t1-0-x/load": 7.0}
    assert snap.rss_bytes == {"frontend-0/app": 50_000_000, "frontend-0/sidecar": 40_000_000}


def test_deployment_usage_reads_the_nodes_of_its_pods(build: Build) -> None:
    sc = scenario(meshes=["istio"])
    platform, _, _ = build(sc, sidecar="istio-proxy",
                           summaries={"meshbench-worker": SUMMARY})
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
    kuma_text = ('envoy_cluster_upstream_rq_total{envoy_cluster_name="localhost_8080"} 7\n'
                 'envoy_cluster_upstream_rq_total{envoy_cluster_name="backend_svc_8080"} 99\n')
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
