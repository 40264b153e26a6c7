"""TLS connections opened with their endpoints' key logs (SSLKEYLOGFILE format, which
Envoy writes with ``common_tls_context.key_log``), so the requests inside mutual-TLS hops
can be told apart and timed like plaintext ones.

Application data is appended to a plaintext :class:`~meshbench.wire.tcp.Stream` whose
bytes carry the capture time of the TLS record they came in.

- TLS 1.3 (AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305): for each direction, records are
  decrypted with the handshake traffic key, then (once that no longer authenticates) the
  application traffic key, following key updates.
- TLS 1.2 with an AEAD suite (ECDHE with AES-GCM or ChaCha20-Poly1305; what Envoy's
  upstream TLS negotiates by default): keys expanded from the logged master secret, each
  direction encrypted from its ChangeCipherSpec on.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from meshbench.wire.tcp import Flow, Stream

CHANGE_CIPHER_SPEC, HANDSHAKE, APPLICATION_DATA = 20, 22, 23
CLIENT_HELLO, SERVER_HELLO, KEY_UPDATE = 1, 2, 24

SUITES: dict[int, tuple[type[AESGCM] | type[ChaCha20Poly1305], int, hashes.HashAlgorithm]] = {
    0x1301: (AESGCM, 16, hashes.SHA256()),
    0x1302: (AESGCM, 32, hashes.SHA384()),
    0x1303: (ChaCha20Poly1305, 32, hashes.SHA256()),
}
"""TLS 1.3 cipher suites: AEAD, key length, hash."""

TLS12_SUITES: dict[int, tuple[type[AESGCM] | type[ChaCha20Poly1305], int, hashes.HashAlgorithm]] = {
    0xC02B: (AESGCM, 16, hashes.SHA256()),  # ECDHE-ECDSA-AES128-GCM-SHA256
    0xC02F: (AESGCM, 16, hashes.SHA256()),  # ECDHE-RSA-AES128-GCM-SHA256
    0xC02C: (AESGCM, 32, hashes.SHA384()),  # ECDHE-ECDSA-AES256-GCM-SHA384
    0xC030: (AESGCM, 32, hashes.SHA384()),  # ECDHE-RSA-AES256-GCM-SHA384
    0xCCA9: (ChaCha20Poly1305, 32, hashes.SHA256()),  # ECDHE-ECDSA-CHACHA20-POLY1305
    0xCCA8: (ChaCha20Poly1305, 32, hashes.SHA256()),  # ECDHE-RSA-CHACHA20-POLY1305
}
"""TLS 1.2 AEAD cipher suites: AEAD, key length, PRF hash."""

Keylog = dict[bytes, dict[str, bytes]]
"""client random -> {label: secret}."""


class TlsError(ValueError):
    """A connection that cannot be opened (no keys, not TLS 1.3, a record that does not
    authenticate)."""


def parse_keylog(text: str) -> Keylog:
    """The lines of one or more SSLKEYLOGFILE files: ``LABEL <client random> <secret>``."""
    out: Keylog = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and not line.startswith("#"):
            label, random, secret = parts
            try:
                out.setdefault(bytes.fromhex(random), {})[label] = bytes.fromhex(secret)
            except ValueError:
                continue
    return out


def _records(stream: Stream) -> list[tuple[int, int, bytes, bytes]]:
    """(offset, type, header, body) of every complete record."""
    data, at, out = stream.data, 0, []
    while at + 5 <= len(data):
        ctype, _version, length = struct.unpack("!BHH", data[at : at + 5])
        if at + 5 + length > len(data):
            break
        out.append((at, ctype, bytes(data[at : at + 5]), bytes(data[at + 5 : at + 5 + length])))
        at += 5 + length
    return out


def _expand_label(secret: bytes, label: str, length: int, hash_alg: hashes.HashAlgorithm) -> bytes:
    full = b"tls13 " + label.encode()
    info = struct.pack("!HB", length, len(full)) + full + b"\x00"
    return HKDFExpand(hash_alg, length, info).derive(secret)


@dataclass
class _Direction:
    secrets: list[bytes]  # handshake traffic secret, application traffic secret
    suite: int
    which: int = 0
    seq: int = 0

    def _cipher(self) -> tuple[AESGCM | ChaCha20Poly1305, bytes]:
        aead, key_len, hash_alg = SUITES[self.suite]
        secret = self.secrets[self.which]
        key = _expand_label(secret, "key", key_len, hash_alg)
        iv = _expand_label(secret, "iv", 12, hash_alg)
        return aead(key), iv

    def open(self, header: bytes, body: bytes) -> bytes:
        """The inner plaintext (content and type byte, padding removed)."""
        for _ in range(len(self.secrets)):
            cipher, iv = self._cipher()
            nonce = bytes(a ^ b for a, b in zip(iv, self.seq.to_bytes(12, "big"), strict=True))
            try:
                inner = cipher.decrypt(nonce, body, header)
            except InvalidTag:
                if self.which + 1 < len(self.secrets):  # the handshake is over: next key
                    self.which, self.seq = self.which + 1, 0
                    continue
                raise TlsError("a record did not authenticate with the logged keys") from None
            self.seq += 1
            return inner.rstrip(b"\x00")
        raise TlsError("no key opens this record")

    def key_update(self) -> None:
        _, _, hash_alg = SUITES[self.suite]
        secret = self.secrets[self.which]
        self.secrets[self.which] = _expand_label(
            secret, "traffic upd", hash_alg.digest_size, hash_alg
        )
        self.seq = 0


def _hello(records: list[tuple[int, int, bytes, bytes]], kind: int) -> bytes:
    for _, ctype, _, body in records:
        if ctype == HANDSHAKE and body and body[0] == kind:
            return body
    raise TlsError(f"no {'ClientHello' if kind == CLIENT_HELLO else 'ServerHello'} captured")


def _suite(server_hello: bytes) -> int:
    sid_len = server_hello[38]
    return int(struct.unpack("!H", server_hello[39 + sid_len : 41 + sid_len])[0])


def _prf(secret: bytes, label: bytes, seed: bytes, length: int, h: hashes.HashAlgorithm) -> bytes:
    """TLS 1.2's PRF (P_hash of RFC 5246, section 5)."""
    from cryptography.hazmat.primitives import hmac

    def mac(data: bytes) -> bytes:
        m = hmac.HMAC(secret, h)
        m.update(data)
        return m.finalize()

    out, a = b"", label + seed
    while len(out) < length:
        a = mac(a)
        out += mac(a + label + seed)
    return out[:length]


def _decrypt12(
    flow: Flow,
    up_records: list[tuple[int, int, bytes, bytes]],
    down_records: list[tuple[int, int, bytes, bytes]],
    client_random: bytes,
    server_hello: bytes,
    suite: int,
    secrets: dict[str, bytes],
) -> tuple[Stream, Stream]:
    if "CLIENT_RANDOM" not in secrets:
        raise TlsError("the key log lacks the TLS 1.2 master secret (CLIENT_RANDOM)")
    aead, key_len, hash_alg = TLS12_SUITES[suite]
    chacha = aead is ChaCha20Poly1305
    iv_len = 12 if chacha else 4
    server_random = server_hello[6:38]
    block = _prf(
        secrets["CLIENT_RANDOM"],
        b"key expansion",
        server_random + client_random,
        2 * key_len + 2 * iv_len,
        hash_alg,
    )
    keys = {
        "client": (block[:key_len], block[2 * key_len : 2 * key_len + iv_len]),
        "server": (block[key_len : 2 * key_len], block[2 * key_len + iv_len :]),
    }
    out = []
    for records, stream, side in (
        (up_records, flow.up, "client"),
        (down_records, flow.down, "server"),
    ):
        key, iv = keys[side]
        cipher = aead(key)
        seq, encrypted = 0, False
        plain = Stream()
        for offset, ctype, header, body in records:
            if ctype == CHANGE_CIPHER_SPEC:
                encrypted = True
                continue
            if not encrypted:
                continue
            if chacha:
                nonce = bytes(a ^ b for a, b in zip(iv, seq.to_bytes(12, "big"), strict=True))
                ciphertext = body
            else:
                nonce, ciphertext = iv + body[:8], body[8:]
            aad = seq.to_bytes(8, "big") + header[:3] + struct.pack("!H", len(ciphertext) - 16)
            try:
                content = cipher.decrypt(nonce, ciphertext, aad)
            except InvalidTag:
                raise TlsError(
                    "a TLS 1.2 record did not authenticate with the logged keys"
                ) from None
            seq += 1
            if ctype == APPLICATION_DATA and content:
                plain._append(stream.time_at(offset), content)
        out.append(plain)
    return out[0], out[1]


def decrypt(flow: Flow, keylog: Keylog) -> tuple[Stream, Stream]:
    """The plaintext (client -> server, server -> client) of a TLS 1.3 or TLS 1.2 (AEAD)
    connection whose opening was captured and whose secrets are in ``keylog``."""
    up_records, down_records = _records(flow.up), _records(flow.down)
    client_random = _hello(up_records, CLIENT_HELLO)[6:38]
    server_hello = _hello(down_records, SERVER_HELLO)
    suite = _suite(server_hello)
    secrets = keylog.get(client_random)
    if not secrets:
        raise TlsError(f"no key log line for client random {client_random.hex()[:16]}...")
    if suite in TLS12_SUITES:
        return _decrypt12(
            flow, up_records, down_records, client_random, server_hello, suite, secrets
        )
    if suite not in SUITES:
        raise TlsError(f"cipher suite {suite:#06x} is not one meshbench opens (AEAD suites only)")
    out = []
    for records, stream, side in (
        (up_records, flow.up, "CLIENT"),
        (down_records, flow.down, "SERVER"),
    ):
        try:
            keys = [
                secrets[f"{side}_HANDSHAKE_TRAFFIC_SECRET"],
                secrets[f"{side}_TRAFFIC_SECRET_0"],
            ]
        except KeyError as e:
            raise TlsError(f"the key log lacks {e.args[0]} for this connection") from None
        direction = _Direction(keys, suite)
        plain = Stream()
        for offset, ctype, header, body in records:
            if ctype != APPLICATION_DATA:  # ClientHello, ServerHello, ChangeCipherSpec
                continue
            inner = direction.open(header, body)
            content, inner_type = inner[:-1], inner[-1]
            if inner_type == APPLICATION_DATA and content:
                plain._append(stream.time_at(offset), content)
            elif inner_type == HANDSHAKE and content[:1] == bytes([KEY_UPDATE]):
                direction.key_update()
        out.append(plain)
    return out[0], out[1]
