"""Protocols and connection churn through real Envoy sidecars: with
``sidecar_protocol: h2`` the sidecars' upstream connections are HTTP/2 (Envoy's own
counters say so), gRPC requests cross every sidecar, and a new connection every N
requests is what the sidecars see arriving."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshbench.results.store import read_trial_rows
from meshbench.runner.run import run_scenario
from meshbench.testing.stalls import assert_valid_or_host_stalled

pytestmark = pytest.mark.integration

PODS = ("frontend", "middle", "backend")
EVERY = 5
SIDECAR_EVERY = 20


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, repo: Path) -> Path:
    smoke = yaml.safe_load((repo / "scenarios" / "smoke.yaml").read_text())
    smoke.update(
        name="protocols-test",
        meshes=["envoy-mtls"],
        repeats=1,
        deployments=1,
        sweep={"protocol": ["http1", "grpc"], "requests_per_connection": [0, EVERY]},
    )
    smoke["load"].update(rates_rps=[100], duration_s=2, connections=4)
    smoke["local"]["sidecar_protocol"] = "h2"
    smoke["local"]["sidecar_requests_per_connection"] = SIDECAR_EVERY
    path = tmp_path_factory.mktemp("sc") / "protocols.yaml"
    path.write_text(yaml.safe_dump(smoke))
    run_dir = run_scenario(path, tmp_path_factory.mktemp("results"))
    assert run_dir is not None
    return run_dir


def trials(run_dir: Path) -> list[tuple[dict[str, str], dict[str, Any]]]:
    out = []
    for row in read_trial_rows(run_dir):
        path = run_dir / "trials" / row["trial_id"] / "sidecar_stats.json"
        stats = json.loads(path.read_text())
        out.append((row, stats))
    assert len(out) == 4
    return out


def delta(stats: dict[str, Any], pod: str, name: str) -> int:
    return int(stats["after"][pod].get(name, 0)) - int(stats["before"][pod].get(name, 0))


def test_every_trial_is_error_free_and_valid_or_host_stalled(run: Path) -> None:
    rows = read_trial_rows(run)
    assert {(r["protocol"], r["requests_per_connection"]) for r in rows} == {
        ("http1", "0"),
        ("http1", str(EVERY)),
        ("grpc", "0"),
        ("grpc", str(EVERY)),
    }
    assert_valid_or_host_stalled(rows, max_stalled=1)


def test_sidecars_speak_http2_to_each_other(run: Path) -> None:
    """sidecar_protocol h2: every upstream connection between sidecars is HTTP/2 (ALPN h2
    over mTLS), for HTTP/1.1 apps too; the app hop is HTTP/2 only for gRPC apps."""
    for row, stats in trials(run):
        for pod in ("frontend", "middle"):  # they call the next pod through their sidecar
            assert delta(stats, pod, "cluster.outbound_passthrough.upstream_rq_total") > 0
            after = stats["after"][pod]
            http2 = after["cluster.outbound_passthrough.upstream_cx_http2_total"]
            http1 = after.get("cluster.outbound_passthrough.upstream_cx_http1_total", 0)
            assert http2 > 0 and http1 == 0, (row["trial_id"], pod)
        for pod in PODS:
            app_h2 = stats["after"][pod].get("cluster.inbound_app.upstream_cx_http2_total", 0)
            assert (app_h2 > 0) == (row["protocol"] == "grpc"), (row["trial_id"], pod)


def test_grpc_requests_cross_every_sidecar(run: Path) -> None:
    for row, stats in trials(run):
        if row["protocol"] != "grpc":
            continue
        sent = int(row["requests"]) + int(row["warmup_requests"])
        for pod in PODS:
            got = sum(
                delta(stats, pod, f"http.{p}.downstream_rq_total")
                for p in ("inbound", "inbound_plaintext")
            )
            assert got == sent, (row["trial_id"], pod)


def test_churn_is_what_the_sidecars_see_arriving(run: Path) -> None:
    """A new connection every 5 requests: the entry's sidecar accepts about sent/5
    connections from the generator, and each caller's sidecar about sent/5 from its app;
    with keep-alive, only the pools' few."""
    for row, stats in trials(run):
        sent = int(row["requests"]) + int(row["warmup_requests"])
        entry = delta(stats, "frontend", "http.inbound_plaintext.downstream_cx_total")
        app_side = delta(stats, "frontend", "http.outbound.downstream_cx_total")
        if row["requests_per_connection"] == str(EVERY):
            assert sent // EVERY <= entry <= sent // EVERY + 8, (row["trial_id"], entry)
            assert sent // EVERY - 8 <= app_side <= sent // EVERY + 8, (row["trial_id"], app_side)
        else:
            assert entry <= 4 and app_side <= 8, (row["trial_id"], entry, app_side)


def test_sidecar_churn_is_a_tls_handshake_every_n_requests(run: Path) -> None:
    """local.sidecar_requests_per_connection 20: each sidecar-to-sidecar hop (accepted by
    middle and backend) completes about one mTLS handshake per 20 requests."""
    for row, stats in trials(run):
        sent = int(row["requests"]) + int(row["warmup_requests"])
        for pod in ("middle", "backend"):
            got = sum(
                delta(stats, pod, k)
                for k in stats["after"][pod]
                if k.startswith("listener.") and k.endswith(".ssl.handshake")
            )
            bound = sent // SIDECAR_EVERY
            assert bound <= got <= bound + 4, (row["trial_id"], pod, got)
