"""What the local mesh must refuse, tried for real, and processes that lost their
namespace still found by clean.

- envoy-mtls: a sidecar reached by other sidecars only (middle) refuses plaintext, a client
  certificate from another CA, and one from the run's own CA with a SPIFFE ID outside the
  trust domain; the same request with a proper identity passes (so the refusals mean
  something).
- A process started by a run whose namespace is gone is found by its run key and removed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from meshbench.config.scenario import load_scenario
from meshbench.platforms.local.cleanup import clean
from meshbench.platforms.local.deployment import LocalDeployment
from meshbench.platforms.local.mtls import CertificateAuthority, spiffe_id
from meshbench.platforms.local.names import LOAD_POD, RUN_KEY_ENV
from meshbench.platforms.local.netns import exec_prefix
from meshbench.platforms.local.platform import LocalPlatform

pytestmark = pytest.mark.integration

CLIENT = r"""
import socket, ssl, sys
host, port, cert, key, ca = sys.argv[1], int(sys.argv[2]), *sys.argv[3:6]
raw = socket.create_connection((host, port), timeout=5)
try:
    if cert == "-":
        conn = raw
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.load_verify_locations(ca)
        if key != "-":  # key "-": TLS without a client certificate
            ctx.load_cert_chain(cert, key)
        ctx.set_alpn_protocols(["http/1.1"])
        conn = ctx.wrap_socket(raw)
    conn.sendall(b"GET / HTTP/1.1\r\nHost: middle\r\nConnection: close\r\n\r\n")
    reply = conn.recv(64)
    print(reply.split(b"\r\n")[0].decode() if reply else "closed")
except (OSError, ssl.SSLError) as e:
    print(f"refused: {type(e).__name__}")
"""


@pytest.fixture(scope="module")
def mtls(repo: Path) -> Iterator[LocalDeployment]:
    scenario = load_scenario(repo / "scenarios" / "smoke.yaml")
    platform = LocalPlatform(scenario)
    try:
        with platform.deploy("envoy-mtls", scenario.topology) as dep:
            assert isinstance(dep, LocalDeployment)
            dep.verify()
            yield dep
    finally:
        platform.close()


def _ask(
    dep: LocalDeployment,
    tmp: Path,
    ca: CertificateAuthority | None,
    uri: str,
    trust: CertificateAuthority,
) -> str:
    """What middle's sidecar answers a client in the load pod presenting ``uri`` issued by
    ``ca`` (None: plaintext)."""
    args = ["-", "-", "-"]
    if ca is not None:
        cert, key = ca.issue(uri, "client")
        (tmp / "c.pem").write_bytes(cert)
        (tmp / "k.pem").write_bytes(key)
        (tmp / "ca.pem").write_bytes(trust.ca_pem())
        args = [str(tmp / "c.pem"), str(tmp / "k.pem"), str(tmp / "ca.pem")]
    out = subprocess.run(
        [
            *exec_prefix(dep.netns[LOAD_POD]),
            sys.executable,
            "-c",
            CLIENT,
            dep.address["middle"],
            str(dep.topology.port),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return out.stdout.strip() or out.stderr.strip()


def test_a_proper_identity_passes(mtls: LocalDeployment, tmp_path: Path) -> None:
    assert mtls.ca is not None
    got = _ask(mtls, tmp_path, mtls.ca, spiffe_id("envoy-mtls", "frontend"), mtls.ca)
    assert got == "HTTP/1.1 200 OK"


def test_tls_without_a_client_certificate_is_refused(mtls: LocalDeployment, tmp_path: Path) -> None:
    # (with require_client_certificate off this still fails: the SAN matcher refuses a
    # client that presents no certificate, so that one mutation alone is equivalent)
    assert mtls.ca is not None
    (tmp_path / "ca.pem").write_bytes(mtls.ca.ca_pem())
    out = subprocess.run(
        [
            *exec_prefix(mtls.netns[LOAD_POD]),
            sys.executable,
            "-c",
            CLIENT,
            mtls.address["middle"],
            str(mtls.topology.port),
            "x",
            "-",
            str(tmp_path / "ca.pem"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    got = out.stdout.strip() or out.stderr.strip()
    assert got.startswith(("refused", "closed")), got


def test_plaintext_to_a_middle_pod_is_refused(mtls: LocalDeployment, tmp_path: Path) -> None:
    assert mtls.ca is not None
    got = _ask(mtls, tmp_path, None, "", mtls.ca)
    assert not got.startswith("HTTP/1.1 200"), got


def test_a_certificate_from_another_ca_is_refused(mtls: LocalDeployment, tmp_path: Path) -> None:
    assert mtls.ca is not None
    other = CertificateAuthority("not this run's CA")
    got = _ask(mtls, tmp_path, other, spiffe_id("envoy-mtls", "frontend"), mtls.ca)
    assert got.startswith(("refused", "closed")), got


def test_a_spiffe_id_outside_the_trust_domain_is_refused(
    mtls: LocalDeployment, tmp_path: Path
) -> None:
    assert mtls.ca is not None
    got = _ask(mtls, tmp_path, mtls.ca, "spiffe://evil.example/ns/x/sa/frontend", mtls.ca)
    assert got.startswith(("refused", "closed")), got


def test_a_process_whose_namespace_is_gone_is_found_by_its_run_key() -> None:
    env = {**os.environ, RUN_KEY_ENV: "dead02"}
    orphan = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], env=env)
    try:
        removed, _ = clean()
        assert f"process {orphan.pid} of run dead02" in removed
        orphan.wait(timeout=10)
        assert not psutil.pid_exists(orphan.pid) or orphan.poll() is not None
    finally:
        if orphan.poll() is None:
            orphan.kill()
            orphan.wait()
