"""A per-run certificate authority and one workload identity per pod (SPIFFE-style URIs).

Keys are ECDSA P-256 (Linkerd's identity keys) unless the arm asks for RSA 2048 (Istio's
default workload and self-signed CA keys): :data:`~meshbench.config.features.CertKey`.
Certificates live for one day: a run never needs longer, and a leaked key is useless soon
after.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from meshbench.config.features import CertKey

TRUST_DOMAIN = "meshbench.local"
VALIDITY = dt.timedelta(days=1)


def spiffe_id(mesh: str, pod: str) -> str:
    """The identity URI of ``pod`` in ``mesh``."""
    return f"spiffe://{TRUST_DOMAIN}/ns/{mesh}/sa/{pod}"


@dataclass(frozen=True)
class IssuedFiles:
    """Paths of one pod's PEM files."""

    cert: Path
    key: Path
    ca: Path


PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def new_key(kind: CertKey) -> PrivateKey:
    """A fresh private key of the kind the arm's certificates use."""
    if kind == "rsa-2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class CertificateAuthority:
    """A self-signed root that issues workload certificates (in memory until written)."""

    def __init__(self, name: str = "meshbench run CA", key: CertKey = "ecdsa-p256") -> None:
        self.key_kind = key
        self.key = new_key(key)
        now = dt.datetime.now(dt.UTC)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
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
            .sign(self.key, hashes.SHA256())
        )

    def ca_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(self, uri: str, dns_name: str) -> tuple[bytes, bytes]:
        """A (certificate PEM, key PEM) pair for the identity ``uri``; both client and server."""
        key = new_key(self.key_kind)
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_name)]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.UniformResourceIdentifier(uri), x509.DNSName(dns_name)]
                ),
                critical=False,
            )
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)

    def write_identity(self, directory: Path, mesh: str, pod: str) -> IssuedFiles:
        """Issue ``pod``'s identity and write cert, key and CA as PEM files into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        cert_pem, key_pem = self.issue(spiffe_id(mesh, pod), pod)
        files = IssuedFiles(directory / "cert.pem", directory / "key.pem", directory / "ca.pem")
        files.cert.write_bytes(cert_pem)
        files.key.write_bytes(key_pem)
        files.key.chmod(0o600)
        files.ca.write_bytes(self.ca_pem())
        return files
