"""Requests and their responses in a connection's two streams, HTTP/1.1 or HTTP/2 (gRPC
included), each stamped with the capture time of its first byte.

HTTP/1.1 messages follow each other on a connection (the n-th response answers the n-th
request); HTTP/2 ones are paired by stream. A request is named by its ``x-request-id``
header (meshbench's generator sets it in attribution mode and every service passes it on).
HTTP/2 header blocks are decoded with the ``hpack`` library, which needs the connection
from its first byte (its header table is built as the connection goes).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import hpack

from meshbench.wire.tcp import Stream

REQUEST_ID = b"x-request-id"
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
H2_HEADERS, H2_CONTINUATION = 0x1, 0x9
END_HEADERS, PADDED, PRIORITY = 0x4, 0x8, 0x20
_METHODS = (b"GET ", b"POST ", b"PUT ", b"HEAD ", b"DELETE ", b"OPTIONS ", b"PATCH ")


@dataclass(frozen=True)
class Exchange:
    """One request and the first byte of its response, on one connection."""

    request_id: str | None
    request_ns: int
    response_ns: int | None  # None: no response captured
    status: int | None


@dataclass(frozen=True)
class _Message:
    offset: int
    headers: dict[bytes, bytes]
    start_line: bytes


def _http1_messages(stream: Stream, response: bool) -> list[_Message]:
    """Every complete HTTP/1.1 message of one direction, with where it starts."""
    data, at, out = bytes(stream.data), 0, []
    starts = (b"HTTP/1.",) if response else _METHODS
    while at < len(data):
        if not data.startswith(starts, at):  # captured mid-message: find the next start
            found = [i for i in (data.find(b"\r\n" + s, at) for s in starts) if i >= 0]
            if not found:
                break
            at = min(found) + 2
            continue
        end = data.find(b"\r\n\r\n", at)
        if end < 0:
            break
        lines = data[at:end].split(b"\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        out.append(_Message(at, headers, lines[0]))
        at = end + 4
        if b"content-length" in headers:
            at += int(headers[b"content-length"])
        elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            while True:
                line_end = data.find(b"\r\n", at)
                if line_end < 0:
                    return out
                size = int(data[at:line_end].split(b";")[0] or b"0", 16)
                at = line_end + 2 + size + 2
                if size == 0:
                    break
    return out


def http1_exchanges(up: Stream, down: Stream) -> list[Exchange]:
    """The n-th request with the n-th response (HTTP/1.1 answers in order)."""
    requests = _http1_messages(up, response=False)
    responses = _http1_messages(down, response=True)
    out = []
    for i, req in enumerate(requests):
        resp = responses[i] if i < len(responses) else None
        rid = req.headers.get(REQUEST_ID)
        out.append(
            Exchange(
                request_id=rid.decode(errors="replace") if rid else None,
                request_ns=up.time_at(req.offset),
                response_ns=down.time_at(resp.offset) if resp else None,
                status=int(resp.start_line.split()[1]) if resp else None,
            )
        )
    return out


Headers = list[tuple[bytes, bytes]]


def _h2_header_blocks(stream: Stream, client: bool) -> dict[int, tuple[int, Headers]]:
    """The first complete header block of every stream id: (offset of its first frame,
    decoded headers)."""
    data = bytes(stream.data)
    at = len(H2_PREFACE) if client and data.startswith(H2_PREFACE) else 0
    decoder = hpack.Decoder()
    decoder.max_allowed_table_size = 2**20
    first: dict[int, tuple[int, Headers]] = {}
    pending: tuple[int, int, bytearray] | None = None  # stream id, offset, block so far
    while at + 9 <= len(data):
        length = int.from_bytes(data[at : at + 3], "big")
        ftype, flags = data[at + 3], data[at + 4]
        sid = struct.unpack("!I", data[at + 5 : at + 9])[0] & 0x7FFFFFFF
        payload = data[at + 9 : at + 9 + length]
        if len(payload) < length:
            break
        if ftype == H2_HEADERS:
            pad = payload[0] if flags & PADDED else 0
            body = payload[1:] if flags & PADDED else payload
            body = body[5:] if flags & PRIORITY else body
            pending = (sid, at, bytearray(body[: len(body) - pad]))
        elif ftype == H2_CONTINUATION and pending is not None:
            pending[2].extend(payload)
        if pending is not None and ftype in (H2_HEADERS, H2_CONTINUATION) and flags & END_HEADERS:
            psid, offset, block = pending
            headers = decoder.decode(bytes(block), raw=True)  # every block: the table moves
            if psid not in first:
                first[psid] = (offset, [(bytes(k), bytes(v)) for k, v in headers])
            pending = None
        at += 9 + length
    return first


def h2_exchanges(up: Stream, down: Stream) -> list[Exchange]:
    """Each stream's request headers with its response headers (HTTP/2, gRPC)."""
    requests = _h2_header_blocks(up, client=True)
    responses = _h2_header_blocks(down, client=False)
    out = []
    for sid, (offset, headers) in sorted(requests.items()):
        h = dict(headers)
        resp = responses.get(sid)
        rh = dict(resp[1]) if resp else {}
        rid = h.get(REQUEST_ID)
        out.append(
            Exchange(
                request_id=rid.decode(errors="replace") if rid else None,
                request_ns=up.time_at(offset),
                response_ns=down.time_at(resp[0]) if resp else None,
                status=int(rh[b":status"]) if b":status" in rh else None,
            )
        )
    return out


def exchanges(up: Stream, down: Stream) -> list[Exchange]:
    """The connection's exchanges, HTTP/2 when it starts with the HTTP/2 preface."""
    if bytes(up.data[: len(H2_PREFACE)]) == H2_PREFACE:
        return h2_exchanges(up, down)
    return http1_exchanges(up, down)
