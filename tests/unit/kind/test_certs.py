"""Linkerd's per-run identity: ECDSA P-256 trust anchor and issuer, as Linkerd requires."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from meshbench.platforms.kind.certs import ISSUER_CN, TRUST_ANCHOR_CN, generate


def test_generated_chain(tmp_path: Path) -> None:
    ident = generate(tmp_path / "id", validity_h=24)
    root = x509.load_pem_x509_certificate(ident.ca_crt.read_bytes())
    issuer = x509.load_pem_x509_certificate(ident.issuer_crt.read_bytes())
    key = load_pem_private_key(ident.issuer_key.read_bytes(), password=None)

    for cert in (root, issuer):
        pub = cert.public_key()
        assert isinstance(pub, ec.EllipticCurvePublicKey)
        assert pub.curve.name == "secp256r1"
        assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        assert usage.key_cert_sign and usage.crl_sign
    assert root.subject.rfc4514_string() == f"CN={TRUST_ANCHOR_CN}"
    assert issuer.subject.rfc4514_string() == f"CN={ISSUER_CN}"
    assert issuer.issuer == root.subject
    issuer.verify_directly_issued_by(root)  # raises when the signature does not verify
    assert issuer.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.public_key().public_numbers() == issuer.public_key().public_numbers()  # type: ignore[union-attr]
    lifetime = issuer.not_valid_after_utc - dt.datetime.now(dt.UTC)
    assert dt.timedelta(hours=23) < lifetime <= dt.timedelta(hours=24)
    assert stat.S_IMODE(ident.issuer_key.stat().st_mode) == 0o600


def test_each_run_gets_a_new_anchor(tmp_path: Path) -> None:
    a = generate(tmp_path / "a").ca_crt.read_bytes()
    b = generate(tmp_path / "b").ca_crt.read_bytes()
    assert a != b
