"""bench/wire.py: round trips read from a packet capture, attributed to the right tool."""

from __future__ import annotations

import importlib.util
import struct
from pathlib import Path
from types import ModuleType

import pytest

SERVER = 8080


def _wire() -> ModuleType:
    path = Path(__file__).resolve().parents[3] / "bench" / "wire.py"
    spec = importlib.util.spec_from_file_location("bench_wire", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _frame(sport: int, dport: int, payload: bytes) -> bytes:
    """An Ethernet + IPv4 + TCP frame (no options) carrying ``payload``."""
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 0, 0, 5 << 4, 0x18, 502, 0, 0)
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 0, 0, 64, 6, 0,
        bytes([198, 18, 0, 10]), bytes([198, 18, 0, 11]),
    )  # fmt: skip
    return b"\x00" * 12 + struct.pack("!H", 0x0800) + ip + tcp + payload


def _pcap(path: Path, packets: list[tuple[float, bytes]], snap: int = 256) -> Path:
    out = struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1)
    for t, frame in packets:
        sec, nsec = int(t), round((t - int(t)) * 1e9)
        kept = frame[:snap]
        out += struct.pack("<IIII", sec, nsec, len(kept), len(frame)) + kept
    path.write_bytes(out)
    return path


def _tool(first_request: bytes) -> str:
    return "marked" if b"X-Client: a" in first_request else "plain"


def test_exchanges_pair_each_request_with_its_reply_per_connection(tmp_path: Path) -> None:
    wire = _wire()
    req_a = b"GET / HTTP/1.1\r\nHost: h\r\nX-Client: a\r\n\r\n"
    req_b = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    pcap = _pcap(
        tmp_path / "c.pcap",
        [
            (100.000_000, _frame(40000, SERVER, req_a)),
            (100.000_500, _frame(40001, SERVER, req_b)),  # interleaved on another connection
            (100.000_900, _frame(SERVER, 40001, b"")),  # a bare ACK: not a reply
            (100.002_000, _frame(SERVER, 40000, reply)),  # a's reply: 2.0 ms
            (100.002_100, _frame(SERVER, 40000, b"more")),  # a later segment: not a new reply
            (100.003_500, _frame(SERVER, 40001, reply)),  # b's reply: 3.0 ms
            (100.010_000, _frame(40000, SERVER, req_b)),  # a's connection, unmarked request
            (100.010_250, _frame(SERVER, 40000, reply)),  # still a's tool: 0.25 ms
            (100.020_000, _frame(40002, SERVER, req_a)),  # no reply in the capture: dropped
        ],
    )
    got = wire.exchanges(pcap, SERVER, _tool)
    assert sorted(got) == ["marked", "plain"]
    assert [round(rtt, 3) for _, rtt in got["marked"]] == [2.0, 0.25]
    assert [round(rtt, 3) for _, rtt in got["plain"]] == [3.0]
    assert got["marked"][0][0] == pytest.approx(100.0)


def test_a_request_split_over_segments_counts_from_its_first(tmp_path: Path) -> None:
    wire = _wire()
    pcap = _pcap(
        tmp_path / "s.pcap",
        [
            (5.0, _frame(40000, SERVER, b"GET / HTTP/1.1\r\n")),
            (5.001, _frame(40000, SERVER, b"Host: h\r\n\r\n")),
            (5.004, _frame(SERVER, 40000, b"HTTP/1.1 200 OK\r\n\r\n")),
        ],
    )
    got = wire.exchanges(pcap, SERVER, _tool)
    assert [round(rtt, 3) for _, rtt in got["plain"]] == [4.0]


def test_a_capture_without_nanosecond_stamps_is_refused(tmp_path: Path) -> None:
    wire = _wire()
    path = tmp_path / "us.pcap"
    path.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    with pytest.raises(ValueError, match="nanosecond"):
        wire.exchanges(path, SERVER, _tool)
