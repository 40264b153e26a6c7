"""Every sidecar feature arm on real Envoy: deployed, proven on the path by Envoy's own
counters, measured, and its trials accounted for; the access log has a line per request
and listener."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshbench.config.meshes import meshes_on
from meshbench.results.store import read_trial_rows
from meshbench.runner.run import run_scenario
from meshbench.testing.stalls import assert_valid_or_host_stalled

pytestmark = pytest.mark.integration

ARMS = [d.name for d in meshes_on("local") if d.reference is not None]
SERVICES = ("frontend", "middle", "backend")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, repo: Path) -> Path:
    smoke = yaml.safe_load((repo / "scenarios" / "smoke.yaml").read_text())
    smoke.update(name="features-test", meshes=ARMS, repeats=1, deployments=1)
    smoke["load"].update(rates_rps=[100], duration_s=1, warmup_s=0.5)
    path = tmp_path_factory.mktemp("sc") / "features.yaml"
    path.write_text(yaml.safe_dump(smoke))
    run_dir = run_scenario(path, tmp_path_factory.mktemp("results"))
    assert run_dir is not None
    return run_dir


def _proof(run: Path, arm: str) -> dict[str, Any]:
    """What the arm's deployment proved about its features (proof/<arm>.json)."""
    features: dict[str, Any] = json.loads((run / "proof" / f"{arm}.json").read_text())["details"][
        "features"
    ]
    return features


def test_every_feature_arm_is_measured_and_accounted_for(run: Path) -> None:
    rows = read_trial_rows(run)
    assert sorted(r["mesh"] for r in rows) == sorted(ARMS)
    assert_valid_or_host_stalled(rows, max_stalled=1)


def test_each_arm_proves_its_one_feature_with_envoys_counters(run: Path) -> None:
    for arm in ARMS:
        proof = _proof(run, arm)
        if arm.startswith("envoy-mtls-"):  # a decomposition arm: one feature
            assert len(proof["settings"]) == 1, (arm, proof["settings"])
    for profile in ("istio-profile", "kuma-profile"):  # every sidecar runs the profile
        configured = _proof(run, profile)["configured"]
        assert configured and all(len(pods) == 3 for pods in configured.values()), configured
    l4 = _proof(run, "envoy-mtls-l4")
    assert all(n > 0 for n in l4["l4_bytes_inbound"].values())
    assert not any(l4["http_requests_inbound"].values())
    assert _proof(run, "envoy-mtls-rsa")["handshake_sigalgs"]["ecdsa"] == 0
    assert _proof(run, "envoy-mtls-rsa")["handshake_sigalgs"]["rsa"] > 0
    versions = _proof(run, "envoy-mtls-tls13")["tls_versions"]
    assert versions["1.3"] > 0 and versions["1.2"] == 0
    rbac = _proof(run, "envoy-mtls-rbac")
    assert rbac["rbac_allowed"] == rbac["http_requests_inbound"]
    tracing = _proof(run, "envoy-mtls-tracing")
    assert all(n >= 1 for n in tracing["tracing_decisions_inbound"].values())


def test_the_access_log_has_a_line_per_request_and_listener(run: Path) -> None:
    """Every request sent (warm-up included) is one line in each service sidecar's
    inbound log, and one in each caller's outbound log."""
    row = next(r for r in read_trial_rows(run) if r["mesh"] == "envoy-mtls-accesslog")
    sent = int(row["requests"]) + int(row["warmup_requests"])
    logs = run / "logs" / "envoy-mtls-accesslog"
    for pod in SERVICES:
        d = logs / pod / "sidecar" / "access-log"
        inbound = sum(
            len((d / f).read_text().splitlines())
            for f in ("inbound.log", "inbound_plaintext.log")
            if (d / f).exists()
        )
        assert inbound >= sent, (pod, inbound, sent)  # and the deployment's probes
        if pod != "backend":
            assert len((d / "outbound.log").read_text().splitlines()) >= sent, pod
