"""The capture readers on synthetic captures whose answers are known: TCP streams rebuilt
whatever the segments' order, HTTP/1.1 and HTTP/2 exchanges paired to the right request
(HTTP/2 by stream, however the replies interleave), TLS 1.3 opened with a real key log."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

import h2.config
import h2.connection
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from meshbench.platforms.local.pod_capture import tcpdump_argv
from meshbench.wire.hops import Pod, pod_times
from meshbench.wire.http import Exchange, exchanges
from meshbench.wire.pcap import read_segments
from meshbench.wire.tcp import Flow, Stream, flows
from meshbench.wire.tls import TlsError, decrypt, parse_keylog

from ..core.loopback import free_port
from .pcapgen import Capture, Conn, frame

T0 = 1_700_000_000_000_000_000
MS = 1_000_000


def _get(rid: str) -> bytes:
    return f"GET / HTTP/1.1\r\nHost: a\r\nx-request-id: {rid}\r\n\r\n".encode()


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


def _rtt(e: Exchange) -> int:
    assert e.response_ns is not None
    return e.response_ns - e.request_ns


def test_segments_out_of_order_and_retransmitted_make_one_stream(tmp_path: Path) -> None:
    c = Conn(("198.18.0.10", 40000), ("198.18.0.11", 8080))
    cap = Capture()
    cap.open(c, T0)
    data = b"".join(_get(f"r{i}") for i in range(3))
    seq0 = c.seq_c
    segs = [(0, 30), (30, 70), (70, len(data))]
    # the second segment arrives before the first, the first is then sent twice
    for i, (lo, hi) in ((1, segs[1]), (0, segs[0]), (0, segs[0]), (2, segs[2])):
        cap.frames.append(
            (T0 + (10 + i) * MS, frame(c.client, c.server, seq0 + lo, 0x10, data[lo:hi]))
        )
    [flow] = flows(read_segments(cap.write(tmp_path / "c.pcap")))
    assert flow.opened and flow.client == c.client and bytes(flow.up.data) == data
    assert flow.up.time_at(0) == T0 + 10 * MS  # the first segment's first capture
    assert flow.up.time_at(35) == T0 + 11 * MS


def test_http1_replies_answer_their_requests_in_order(tmp_path: Path) -> None:
    c = Conn(("198.18.0.10", 40000), ("198.18.0.11", 8080))
    cap = Capture()
    cap.open(c, T0)
    for i in range(3):
        cap.send(c, T0 + (10 * i + 1) * MS, _get(f"r{i}"), from_client=True)
        cap.send(c, T0 + (10 * i + 4) * MS, OK, from_client=False)
    [flow] = flows(read_segments(cap.write(tmp_path / "c.pcap")))
    got = [(e.request_id, _rtt(e), e.status) for e in exchanges(flow.up, flow.down)]
    assert got == [(f"r{i}", 3 * MS, 200) for i in range(3)]


def _h2_bytes() -> tuple[bytes, list[tuple[int, bytes]]]:
    """A client's HTTP/2 connection with two requests, and the server's replies in
    reverse order, as (time, bytes) chunks of each side."""
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    server = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=False, header_encoding=None)
    )
    client.initiate_connection()
    headers = [(":method", "GET"), (":path", "/"), (":scheme", "http"), (":authority", "a")]
    for sid, rid in ((1, "first"), (3, "second")):
        client.send_headers(sid, [*headers, ("x-request-id", rid)], end_stream=True)
    up = client.data_to_send()
    server.initiate_connection()
    server.receive_data(up)
    replies = []
    for sid in (3, 1):  # the second request is answered first
        server.send_headers(sid, [(":status", "200"), ("content-length", "2")])
        server.send_data(sid, b"ok", end_stream=True)
        replies.append((sid, server.data_to_send()))
    return up, replies


def test_http2_pairs_by_stream_when_replies_come_in_another_order(tmp_path: Path) -> None:
    up_bytes, replies = _h2_bytes()
    c = Conn(("198.18.0.10", 40000), ("198.18.0.11", 8080))
    cap = Capture()
    cap.open(c, T0)
    cap.send(c, T0 + 1 * MS, up_bytes, from_client=True)
    for i, (_sid, data) in enumerate(replies):  # stream 3 at +5 ms, stream 1 at +9 ms
        cap.send(c, T0 + (5 + 4 * i) * MS, data, from_client=False)
    [flow] = flows(read_segments(cap.write(tmp_path / "c.pcap")))
    got = {e.request_id: (_rtt(e), e.status) for e in exchanges(flow.up, flow.down)}
    assert got == {"first": (8 * MS, 200), "second": (4 * MS, 200)}


# -- TLS 1.3, with a real TLS implementation (OpenSSL through Python's ssl) and its key log


def _certificate(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "server")])
    import datetime

    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


Wire = list[tuple[bool, bytes]]


def _tls_session(tmp: Path, messages: Wire, version: str = "1.3") -> tuple[Wire, str]:
    """A TLS 1.3 session in memory: the wire bytes each side sent (in order) while
    exchanging ``messages`` ((from client?, plaintext)), and the client's key log."""
    cert, key = _certificate(tmp)
    keylog = tmp / "keys.log"
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.check_hostname, cctx.verify_mode = False, ssl.CERT_NONE
    if version == "1.3":
        cctx.minimum_version = ssl.TLSVersion.TLSv1_3
    else:  # TLS 1.2 with an AEAD suite, as Envoy's upstream TLS negotiates by default
        cctx.maximum_version = ssl.TLSVersion.TLSv1_2
        cctx.set_ciphers(version)
    cctx.keylog_filename = str(keylog)
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(cert, key)
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = cctx.wrap_bio(c_in, c_out, server_side=False)
    server = sctx.wrap_bio(s_in, s_out, server_side=True)
    wire: Wire = []

    def pump() -> None:
        for from_client, src, dst in ((True, c_out, s_in), (False, s_out, c_in)):
            data = src.read()
            if data:
                wire.append((from_client, data))
                dst.write(data)

    for _ in range(10):  # handshake
        for side in (client, server):
            with contextlib.suppress(ssl.SSLWantReadError):
                side.do_handshake()
        pump()
    for from_client, text in messages:
        (client if from_client else server).write(text)
        pump()
        reader = server if from_client else client
        assert reader.read(65536) == text
        pump()
    return wire, keylog.read_text()


def _streams(wire: Wire) -> tuple[Stream, Stream, list[int]]:
    up, down, times = Stream(), Stream(), []
    for i, (from_client, data) in enumerate(wire):
        t = T0 + i * MS
        (up if from_client else down)._append(t, data)
        times.append(t)
    return up, down, times


@pytest.mark.parametrize(
    "version",
    [
        "1.3",
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
    ],
)
def test_tls_is_opened_with_the_key_log(version: str) -> None:
    """TLS 1.3, and TLS 1.2 with each AEAD suite (Envoy's upstream TLS negotiates 1.2
    unless told otherwise)."""
    with tempfile.TemporaryDirectory() as d:
        messages = [(True, _get("tls-1")), (False, OK), (True, _get("tls-2")), (False, OK)]
        wire, log = _tls_session(Path(d), messages, version)
    up, down, _ = _streams(wire)
    flow = Flow(("198.18.0.10", 1), ("198.18.0.11", 2), 2, True, up, down)
    plain_up, plain_down = decrypt(flow, parse_keylog(log))
    assert bytes(plain_up.data) == _get("tls-1") + _get("tls-2")
    assert bytes(plain_down.data).count(OK) == 2
    got = [(e.request_id, e.status) for e in exchanges(plain_up, plain_down)]
    assert got == [("tls-1", 200), ("tls-2", 200)]
    # each plaintext byte carries the time its record was captured, in order
    ex = exchanges(plain_up, plain_down)
    assert ex[0].request_ns < ex[0].response_ns < ex[1].request_ns < ex[1].response_ns  # type: ignore[operator]


def test_tls_without_its_keys_is_refused_by_name() -> None:
    with tempfile.TemporaryDirectory() as d:
        wire, _log = _tls_session(Path(d), [(True, _get("x")), (False, OK)])
    up, down, _ = _streams(wire)
    flow = Flow(("198.18.0.10", 1), ("198.18.0.11", 2), 2, True, up, down)
    with pytest.raises(TlsError, match="no key log line"):
        decrypt(flow, {})


def test_a_pods_points_are_told_apart(tmp_path: Path) -> None:
    """A meshed pod (198.18.0.11): in on the veth, to the app on loopback, the app's call to
    its sidecar on loopback, out on the veth; each timed for the same request id."""
    cap = Capture()
    pod = "198.18.0.11"
    conns = {
        "in_wire": Conn(("198.18.0.10", 40000), (pod, 8080), iface=2),
        "in_app": Conn(("127.0.0.6", 41000), ("127.0.0.1", 8080), iface=1),
        "out_app": Conn((pod, 42000), ("127.0.0.1", 15001), iface=1),
        "out_wire": Conn((pod, 43000), ("198.18.0.12", 8080), iface=2),
    }
    order = ["in_wire", "in_app", "out_app", "out_wire"]
    for i, name in enumerate(order):
        cap.open(conns[name], T0)
        cap.send(conns[name], T0 + (1 + i) * MS, _get("m0-1"), from_client=True)
        cap.send(conns[name], T0 + (20 - i) * MS, OK, from_client=False)
    times = pod_times(Pod("middle", pod, cap.write(tmp_path / "p.pcap"), 8080, 15001), {}, "m")
    assert times.problems == []
    assert {p: t["m0-1"] for p, t in times.points.items()} == {
        name: (T0 + (1 + i) * MS, T0 + (20 - i) * MS) for i, name in enumerate(order)
    }


def test_a_real_tcpdump_capture_reads_back_if_tcpdump_is_here(tmp_path: Path) -> None:
    """The readers against tcpdump's own file, made with the argv attribution mode uses
    (skipped where tcpdump or root is missing)."""
    if shutil.which("tcpdump") is None or os.geteuid() != 0:
        pytest.skip("needs tcpdump and root")
    port = free_port()
    path = tmp_path / "lo.pcap"
    proc = subprocess.Popen(
        [*tcpdump_argv(path)[:-1], f"tcp port {port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        while "listening on" not in (line := proc.stderr.readline()):
            assert line, "tcpdump exited before capturing"
        with (
            socket.create_server(("127.0.0.1", port)) as srv,
            socket.create_connection(("127.0.0.1", port)) as cli,
        ):
            conn, _ = srv.accept()
            with conn:
                cli.sendall(_get("real-1"))
                conn.recv(65536)
                conn.sendall(OK)
                cli.recv(65536)
        deadline = time.monotonic() + 10
        while len(list(read_segments(path))) < 6 and time.monotonic() < deadline:
            time.sleep(0.02)  # written packet by packet: wait for the exchange to land
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    [flow] = flows(read_segments(path), [port])
    [ex] = exchanges(flow.up, flow.down)
    assert (ex.request_id, ex.status) == ("real-1", 200) and _rtt(ex) > 0


def test_a_redirected_connections_replies_join_it(tmp_path: Path) -> None:
    """The app's call redirected to its sidecar: captured on loopback as app -> 127.0.0.1:
    15001 one way and <the original destination> -> app the other (NAT undone on the
    reply); one connection, its replies paired with its requests."""
    cap = Capture()
    app, redirect, original = ("198.18.0.11", 42000), ("127.0.0.1", 15001), ("198.18.0.12", 8080)
    up = Conn(app, redirect, iface=1)
    back = Conn(app, original, iface=1)
    cap.open(up, T0)
    # the SYN-ACK and every reply come from the original destination
    cap.frames[-1] = (T0 + 1, frame(original, app, up.seq_s - 1, 0x12, iface=1))
    back.seq_s = up.seq_s
    for i in range(2):
        cap.send(up, T0 + (10 * i + 1) * MS, _get(f"r{i}"), from_client=True)
        cap.send(back, T0 + (10 * i + 3) * MS, OK, from_client=False)
    [flow] = flows(read_segments(cap.write(tmp_path / "nat.pcap")), [15001])
    assert (flow.client, flow.server) == (app, redirect)
    got = [(e.request_id, _rtt(e)) for e in exchanges(flow.up, flow.down)]
    assert got == [("r0", 2 * MS), ("r1", 2 * MS)]
