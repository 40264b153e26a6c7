"""Sidecar configuration, capture rules and certificates, checked without privileges."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from meshbench.config.features import MINIMAL
from meshbench.config.meshes import MeshDecl, meshes_on
from meshbench.config.protocols import Wire
from meshbench.platforms.local.capture import nat_rules
from meshbench.platforms.local.envoy import Observation, bootstrap, envoy_binary
from meshbench.platforms.local.mtls import CertificateAuthority, spiffe_id
from meshbench.platforms.local.names import NETNS_RE, netns_name, pod_address

REPO = Path(__file__).resolve().parents[3]


def test_capture_rules_match_istio_init() -> None:
    rules = nat_rules()
    assert "-A MESHBENCH_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006" in rules
    assert "-A MESHBENCH_REDIRECT -p tcp -j REDIRECT --to-ports 15001" in rules
    out = rules[rules.index("-A OUTPUT") :]
    # exclusions come before the redirect, or the proxy would capture itself
    redirect = out.index("-j MESHBENCH_REDIRECT")
    for exclusion in ("--uid-owner 1337 -j RETURN", "-s 127.0.0.6/32 -j RETURN", "-d 127.0.0.1/32"):
        assert 0 < out.index(exclusion) < redirect
    assert rules.rstrip().endswith("COMMIT")
    assert "PREROUTING -p tcp -j MESHBENCH_INBOUND" not in nat_rules(capture_inbound=False)


def test_names_and_addresses() -> None:
    assert NETNS_RE.match(netns_name("abc123", "envoy-mtls", "frontend"))
    assert not NETNS_RE.match("mb-xyz-frontend")
    assert pod_address(0, 0) == "198.18.0.10"
    assert pod_address(2, 3) == "198.18.2.13"
    with pytest.raises(ValueError):
        pod_address(0, 500)


def test_issued_identity_verifies_against_the_ca(tmp_path: Path) -> None:
    ca = CertificateAuthority()
    files = ca.write_identity(tmp_path, "envoy-mtls", "middle")
    cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    ca_cert = x509.load_pem_x509_certificate(files.ca.read_bytes())
    cert.verify_directly_issued_by(ca_cert)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [
        spiffe_id("envoy-mtls", "middle")
    ]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert {o._name for o in eku} == {"serverAuth", "clientAuth"}
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert files.key.stat().st_mode & 0o777 == 0o600
    other = CertificateAuthority()
    with pytest.raises(InvalidSignature):  # a certificate from another run's CA is not trusted
        x509.load_pem_x509_certificate(
            other.issue("spiffe://x/y", "y")[0]
        ).verify_directly_issued_by(ca_cert)


def _validate(config: dict[str, object], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "envoy.json"
    path.write_text(json.dumps(config))
    return subprocess.run(
        [envoy_binary(), "--mode", "validate", "-c", str(path), "--log-level", "error"],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("mtls", [False, True])
@pytest.mark.parametrize("app_port", [8080, None])
def test_envoy_accepts_every_bootstrap_we_generate(
    tmp_path: Path, mtls: bool, app_port: int | None
) -> None:
    tls = CertificateAuthority().write_identity(tmp_path / "tls", "m", "p") if mtls else None
    cfg = bootstrap("p", "m", app_port, tmp_path / "admin.sock", tls)
    result = _validate(cfg, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    listeners = [x["name"] for x in cfg["static_resources"]["listeners"]]
    assert listeners == (["outbound", "inbound"] if app_port else ["outbound"])


@pytest.mark.parametrize("wire", ["http1", "h2"])
def test_envoy_accepts_every_protocol_setting(tmp_path: Path, wire: Wire) -> None:
    """HTTP/2 between sidecars (ALPN h2 under mTLS), HTTP/2 to the app, and a bounded
    number of requests per upstream connection: Envoy takes each as configured."""
    tls = CertificateAuthority().write_identity(tmp_path / "tls", "m", "p")
    cfg = bootstrap(
        "p",
        "m",
        8080,
        tmp_path / "admin.sock",
        tls,
        sidecar_protocol=wire,
        app_protocol=wire,
        sidecar_requests_per_connection=10,
    )
    result = _validate(cfg, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    clusters = {c["name"]: c for c in cfg["static_resources"]["clusters"]}
    key = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
    out = clusters["outbound_passthrough"]["typed_extension_protocol_options"][key]
    app = clusters["inbound_app"]["typed_extension_protocol_options"][key]
    h2 = "http2_protocol_options"
    assert (
        (h2 in out["explicit_http_config"]) == (h2 in app["explicit_http_config"]) == (wire == "h2")
    )
    assert out["common_http_protocol_options"] == {"max_requests_per_connection": 10}
    assert "common_http_protocol_options" not in app  # the app hop keeps its connections
    alpn = clusters["outbound_passthrough"]["transport_socket"]["typed_config"][
        "common_tls_context"
    ]["alpn_protocols"]
    assert alpn == (["h2"] if wire == "h2" else ["http/1.1"])


@pytest.mark.parametrize("mtls", [False, True])
def test_envoy_accepts_attribution_and_a_known_inbound_delay(tmp_path: Path, mtls: bool) -> None:
    """Attribution mode's key log and access logs, and a fault-filter delay on inbound
    only: Envoy takes them; the delay is the inbound chains' first filter and nowhere else."""
    tls = CertificateAuthority().write_identity(tmp_path / "tls", "m", "p") if mtls else None
    observe = Observation(tmp_path / "keys.log", tmp_path)
    cfg = bootstrap(
        "p", "m", 8080, tmp_path / "admin.sock", tls, observe=observe, inbound_delay_ms=2.5
    )
    result = _validate(cfg, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    for listener in cfg["static_resources"]["listeners"]:
        for chain in listener["filter_chains"]:
            hcm = chain["filters"][0]["typed_config"]
            filters = [f["name"] for f in hcm["http_filters"]]
            delayed = filters[0] == "envoy.filters.http.fault"
            assert delayed is (listener["name"] == "inbound"), (listener["name"], filters)
            if delayed:
                delay = hcm["http_filters"][0]["typed_config"]["delay"]["fixed_delay"]
                assert delay == "0.002500s"
            assert hcm["access_log"][0]["typed_config"]["path"].endswith(".log")
            assert hcm["preserve_external_request_id"] is True
    if mtls:
        clusters = {c["name"]: c for c in cfg["static_resources"]["clusters"]}
        context = clusters["outbound_passthrough"]["transport_socket"]["typed_config"]
        assert context["common_tls_context"]["key_log"] == {"path": str(tmp_path / "keys.log")}


def test_envoy_rejects_a_broken_bootstrap(tmp_path: Path) -> None:
    """The validation above can fail: a dangling cluster reference is refused."""
    cfg = bootstrap("p", "m", 8080, tmp_path / "admin.sock")
    cfg["static_resources"]["clusters"] = []
    assert _validate(cfg, tmp_path).returncode != 0


def test_non_root_fails_in_one_line_naming_the_fix() -> None:
    """As an ordinary user the CLI says what is wrong and how to fix it, in one line.

    The process imports meshbench as root, then becomes uid 65534 for good and runs the
    CLI: so the test does not depend on whether that user can read this checkout (a clone
    in a private directory, e.g. under ``mktemp -d``, it cannot)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to become an ordinary user")
    shared = Path(tempfile.mkdtemp(prefix="meshbench-nonroot-"))  # pytest's tmp is private
    shared.chmod(0o777)  # the run directory is made before the privilege check
    try:
        out = _run_as_nobody(shared)
    finally:
        shutil.rmtree(shared)
    assert out.returncode == 2, out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "needs root" in lines[0] and "fix: run it as root" in lines[0]


def _run_as_nobody(shared: Path) -> subprocess.CompletedProcess[str]:
    """``meshbench run`` of the smoke scenario (copied into ``shared``) as uid 65534."""
    scenario = shared / "smoke.yaml"
    scenario.write_text((REPO / "scenarios" / "smoke.yaml").read_text())
    scenario.chmod(0o644)
    become_nobody = (
        "import os, sys\n"
        "import meshbench.cli, meshbench.runner.run, meshbench.platforms.local.platform\n"
        "os.setgroups([]); os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534)\n"
        "sys.exit(meshbench.cli.main(sys.argv[1:]))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", become_nobody, "run", str(scenario), "--results", str(shared)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=shared,
    )


FEATURE_ARMS = [d for d in meshes_on("local") if d.features != MINIMAL]


@pytest.mark.parametrize("decl", FEATURE_ARMS, ids=[d.name for d in FEATURE_ARMS])
def test_envoy_accepts_every_feature_arm_and_the_feature_is_in_its_config(
    tmp_path: Path, decl: MeshDecl
) -> None:
    """Each decomposition arm's bootstrap is valid Envoy and carries its one feature (and
    the minimal sidecar's does not)."""
    f = decl.features
    ca = CertificateAuthority(key=f.cert_key)
    tls = ca.write_identity(tmp_path / "tls", decl.name, "p")
    cfg = bootstrap(
        "p", decl.name, 8080, tmp_path / "admin.sock", tls, features=f, access_log_dir=tmp_path
    )
    result = _validate(cfg, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    text = json.dumps(cfg)
    minimal = json.dumps(bootstrap("p", "m", 8080, tmp_path / "admin.sock", tls))
    marks = {
        "envoy-mtls-l4": ["envoy.filters.network.tcp_proxy"],
        "envoy-mtls-rsa": [],  # in the key, not the config
        "envoy-mtls-tls13": ["TLSv1_3"],
        "envoy-mtls-accesslog": [str(tmp_path / "inbound.log")],
        "envoy-mtls-rbac": ["envoy.filters.http.rbac"],
        "envoy-mtls-tracing": ["random_sampling"],
        "istio-profile": [
            "TLSv1_3",
            "envoy.filters.http.grpc_stats",
            "envoy.filters.http.cors",
            "envoy.filters.http.fault",
            "retriable-status-codes",
            "random_sampling",
        ],
        "kuma-profile": ["envoy.filters.http.rbac", "gateway-error", '"timeout": "15s"'],
    }[decl.name]
    for mark in marks:
        assert mark in text and mark not in minimal, (decl.name, mark)
    if f.cert_key == "rsa-2048":
        key = serialization.load_pem_private_key(tls.key.read_bytes(), None)
        assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    if not f.l7:
        assert "http_connection_manager" not in text
