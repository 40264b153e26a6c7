"""Linkerd's identity certificates, generated per run.

Linkerd installed with Helm needs a trust anchor (root CA) and an issuer (intermediate
CA) with its key; Linkerd's docs require ECDSA P-256. Both live only for this run
(``validity_h``), in files readable by the user alone, deleted with the run's work dir.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

TRUST_ANCHOR_CN = "root.linkerd.cluster.local"
ISSUER_CN = "identity.linkerd.cluster.local"


@dataclass(frozen=True)
class LinkerdIdentity:
    """Paths of the PEM files Helm reads with ``--set-file``."""

    ca_crt: Path
    issuer_crt: Path
    issuer_key: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca_extensions(
    builder: x509.CertificateBuilder, path_length: int | None, key: ec.EllipticCurvePrivateKey
) -> x509.CertificateBuilder:
    return (
        builder.add_extension(x509.BasicConstraints(ca=True, path_length=path_length), True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )


def generate(out_dir: Path, validity_h: float = 48.0) -> LinkerdIdentity:
    """Write ``ca.crt``, ``issuer.crt`` and ``issuer.key`` into ``out_dir`` (mode 0600)."""
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = dt.datetime.now(dt.UTC)
    not_before = now - dt.timedelta(minutes=5)  # tolerate clock skew between host and nodes
    not_after = now + dt.timedelta(hours=validity_h)

    root_key = ec.generate_private_key(ec.SECP256R1())
    root_builder = (
        x509.CertificateBuilder()
        .subject_name(_name(TRUST_ANCHOR_CN))
        .issuer_name(_name(TRUST_ANCHOR_CN))
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    root = _ca_extensions(root_builder, None, root_key).sign(root_key, hashes.SHA256())

    issuer_key = ec.generate_private_key(ec.SECP256R1())
    issuer_builder = (
        x509.CertificateBuilder()
        .subject_name(_name(ISSUER_CN))
        .issuer_name(root.subject)
        .public_key(issuer_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), False
        )
    )
    issuer = _ca_extensions(issuer_builder, 0, issuer_key).sign(root_key, hashes.SHA256())

    paths = LinkerdIdentity(out_dir / "ca.crt", out_dir / "issuer.crt", out_dir / "issuer.key")
    _write(paths.ca_crt, root.public_bytes(serialization.Encoding.PEM))
    _write(paths.issuer_crt, issuer.public_bytes(serialization.Encoding.PEM))
    _write(
        paths.issuer_key,
        issuer_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    return paths


def _write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
