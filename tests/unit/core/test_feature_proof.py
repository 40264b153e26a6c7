"""A feature is proven on the path by the counters it moves, and a feature configured
but not on the path (its counters still) is a problem naming it."""

from __future__ import annotations

from typing import Any

import pytest

from meshbench.config.features import MINIMAL, SidecarFeatures
from meshbench.config.meshes import mesh_decl
from meshbench.platforms.local.feature_proof import config_evidence, feature_evidence

SERVICES = ["frontend", "backend"]


def _counters(features: SidecarFeatures, on_path: bool) -> dict[str, dict[str, int]]:
    """Each service sidecar's counters after one request crossed it, as Envoy counts them
    with ``features`` on the path (``on_path``) or with the minimal sidecar's config."""
    f = features if on_path else MINIMAL
    out: dict[str, dict[str, int]] = {}
    for s in SERVICES:
        c: dict[str, int] = {}
        if f.l7:
            c["http.inbound.downstream_rq_total"] = 1
        else:
            c["tcp.inbound.downstream_cx_rx_bytes_total"] = 120
        key = "rsa_pss_rsae_sha256" if f.cert_key == "rsa-2048" else "ecdsa_secp256r1_sha256"
        c[f"listener.0.0.0.0_15006.ssl.sigalgs.{key}"] = 1
        c[f"listener.0.0.0.0_15006.ssl.versions.TLSv{f.tls_max}"] = 1
        if f.access_log:
            c["filesystem.write_buffered"] = 2
        if f.rbac_rules:
            c["http.inbound.rbac.allowed"] = 1
        if f.tracing_sample_pct is not None:
            c["http.inbound.tracing.random_sampling"] = 1
        out[s] = c
    return out


CASES = {
    "l4": SidecarFeatures(l7=False),
    "rsa": SidecarFeatures(cert_key="rsa-2048"),
    "tls13": SidecarFeatures(tls_max="1.3"),
    "accesslog": SidecarFeatures(access_log=True),
    "rbac": SidecarFeatures(rbac_rules=10),
    "tracing": SidecarFeatures(tracing_sample_pct=100.0),
}


def _prove(features: SidecarFeatures, on_path: bool) -> tuple[dict[str, Any], list[str]]:
    before: dict[str, dict[str, int]] = {s: {} for s in SERVICES}
    return feature_evidence(features, True, before, _counters(features, on_path), SERVICES)


@pytest.mark.parametrize("name", list(CASES))
def test_a_feature_on_the_path_is_proven(name: str) -> None:
    evidence, problems = _prove(CASES[name], on_path=True)
    assert problems == []
    assert evidence["http_requests_inbound" if CASES[name].l7 else "l4_bytes_inbound"]


@pytest.mark.parametrize("name", list(CASES))
def test_a_feature_missing_from_the_path_is_a_problem(name: str) -> None:
    _, problems = _prove(CASES[name], on_path=False)
    assert problems, name


def test_the_minimal_sidecar_is_proven_with_its_key_and_version() -> None:
    evidence, problems = _prove(MINIMAL, on_path=True)
    assert problems == []
    assert evidence["handshake_sigalgs"] == {"rsa": 0, "ecdsa": 2}
    assert evidence["tls_versions"] == {"1.2": 2, "1.3": 0}


def test_settings_that_cannot_describe_a_sidecar_are_refused() -> None:
    with pytest.raises(ValueError, match="need l7"):
        SidecarFeatures(l7=False, rbac_rules=3)
    with pytest.raises(ValueError, match="rbac_rules"):
        SidecarFeatures(rbac_rules=-1)
    assert SidecarFeatures(rbac_rules=10).differences(MINIMAL) == ["rbac_rules=10"]


def test_settings_without_counters_are_proven_from_each_running_config() -> None:
    """A profile's pass-through filters, timeout, retries and breakers must be in every
    sidecar's /config_dump; a sidecar whose config lacks one is named."""
    profile = mesh_decl("istio-profile").features
    assert profile.configured() == ["http_filters", "route_timeout_s", "retry", "breaker"]
    full = (
        '"envoy.filters.http.grpc_stats" "envoy.filters.http.fault" "envoy.filters.http.cors" '
        f'"timeout": "0s" "retry_on": "{profile.retry.retry_on if profile.retry else ""}" '
        '"max_requests": 4294967295'
    )
    evidence, problems = config_evidence(profile, {"frontend": full, "backend": full})
    assert problems == [] and evidence["filter cors"] == ["backend", "frontend"]
    lacking = full.replace('"envoy.filters.http.cors"', "")
    _, problems = config_evidence(profile, {"frontend": full, "backend": lacking})
    assert problems == ["filter cors not in the running config of ['backend']"]
    assert MINIMAL.configured() == []
