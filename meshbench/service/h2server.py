"""The ``h2c`` sample service: asyncio protocols and the ``h2`` library.

It speaks HTTP/2 with prior knowledge (a connection starting with the HTTP/2 preface),
and HTTP/1.1 on the same port for probes (any other start hands the connection to
:mod:`meshbench.service.http1`). The behaviour is the other protocols': calls every
downstream service in parallel (over HTTP/2, :mod:`meshbench.service.h2client`), waits
its work time, answers its payload (in DATA frames ``chunk_interval_ms`` apart when
streaming); a failed downstream call is a 502; a request's ``x-request-id`` is passed on.

Replies respect HTTP/2 flow control: what the peer's window does not take waits for its
WINDOW_UPDATE.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events
import h2.exceptions

from meshbench.service import http1
from meshbench.service.behaviour import Behaviour, ServiceConfig, split_url
from meshbench.service.h2client import H2Connection
from meshbench.service.http1client import REQUEST_ID_HEADER, nodelay
from meshbench.service.rotation import Rotating
from meshbench.service.worktime import WorkClock

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
OCTETS = (b"content-type", b"application/octet-stream")


@dataclass
class _Pending:
    """What a stream still has to send once the peer's window allows."""

    data: bytearray = field(default_factory=bytearray)
    end: bool = False
    flushed: asyncio.Future[None] | None = None


class Service:
    """What every connection of one service shares: behaviour and downstream clients."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.behaviour = Behaviour(config)
        self.http1 = http1.Service(config)  # for HTTP/1.1 probes on the same port
        self.pools = [self._pool(url) for url in config.calls]
        self.chunk_wait_s = config.chunk_interval_ms / 1000.0
        self.instant = not config.calls and not config.stream_chunks and config.work.median_ms <= 0
        self.health = f"ok {config.name}\n".encode()
        self.connections: set[Connection] = set()
        self.clock = WorkClock()

    def _pool(self, url: str) -> Rotating[H2Connection]:
        return Rotating(
            lambda: H2Connection(*split_url(url)),
            lambda c: c.aclose(),
            self.config.requests_per_connection,
        )

    async def _call(self, pool: Rotating[H2Connection], request_id: bytes | None) -> str:
        """One downstream call; "" when it succeeded, else what went wrong."""
        extra = [(REQUEST_ID_HEADER, request_id)] if request_id is not None else []
        async with pool.use() as conn:
            reply = conn.get("/", extra)
            status, _ = await asyncio.wait_for(reply, self.config.downstream_timeout_s)
            return "" if status == 200 else f"HTTP {status}"

    async def downstream(self, request_id: bytes | None) -> str:
        """Call every downstream service; what failed ("" when every call succeeded)."""
        try:
            if len(self.pools) == 1:
                failures = [await self._call(self.pools[0], request_id)]
            else:
                failures = await asyncio.gather(*(self._call(p, request_id) for p in self.pools))
        except Exception as e:  # refused, reset, timed out: this request's failure
            return f"{self.config.name}: downstream failed: {e!r}"
        failed = [f for f in failures if f]
        return f"{self.config.name}: downstream {failed}" if failed else ""

    async def close(self) -> None:
        for c in list(self.connections):
            c.close()
        self.http1.close()
        for p in self.pools:
            await p.aclose()
        self.clock.close()


class Connection(asyncio.Protocol):
    """One client connection: HTTP/2 after the preface, else handed to HTTP/1.1."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.transport: asyncio.Transport | None = None
        self.h2: h2.connection.H2Connection | None = None
        self._start = b""
        self.requests: dict[int, tuple[bytes, bytes | None]] = {}  # stream: path, request id
        self.pending: dict[int, _Pending] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        nodelay(transport)
        self.service.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.service.connections.discard(self)
        for sid in list(self.pending):
            self._drop_pending(sid)

    def close(self) -> None:
        if self.transport is not None:
            if self.h2 is not None:
                self.h2.close_connection()
                self._flush()
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self.h2 is None:
            self._start += data
            if not PREFACE.startswith(self._start[: len(PREFACE)]):
                self._to_http1()
                return
            if len(self._start) < len(PREFACE):
                return
            self.h2 = h2.connection.H2Connection(
                h2.config.H2Configuration(client_side=False, header_encoding=None)
            )
            self.h2.initiate_connection()
            data, self._start = self._start, b""
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError:
            self._flush()  # the GOAWAY h2 prepared
            self.close()
            return
        for ev in events:
            self._event(ev)
        self._flush()

    def _to_http1(self) -> None:
        """Not HTTP/2: this connection is an HTTP/1.1 one (a probe)."""
        assert self.transport is not None
        self.service.connections.discard(self)
        proto = http1.Connection(self.service.http1)
        self.transport.set_protocol(proto)
        proto.connection_made(self.transport)
        proto.data_received(self._start)
        self.transport = None

    def _flush(self) -> None:
        if self.transport is not None and self.h2 is not None and (out := self.h2.data_to_send()):
            self.transport.write(out)

    def _event(self, ev: h2.events.Event) -> None:
        if isinstance(ev, h2.events.RequestReceived):
            headers = dict(ev.headers or [])
            self.requests[ev.stream_id] = (
                headers.get(b":path", b"/"),
                headers.get(REQUEST_ID_HEADER),
            )
        elif isinstance(ev, h2.events.DataReceived):
            assert self.h2 is not None
            self.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.StreamEnded):
            if (req := self.requests.pop(ev.stream_id, None)) is not None:
                self._answer(ev.stream_id, *req)
        elif isinstance(ev, h2.events.StreamReset):
            self.requests.pop(ev.stream_id, None)
            self._drop_pending(ev.stream_id)
        elif isinstance(ev, h2.events.WindowUpdated):
            self._resume(ev.stream_id)
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.close()

    # -- answering ---------------------------------------------------------------------

    def _answer(self, sid: int, path: bytes, request_id: bytes | None) -> None:
        svc = self.service
        if path.split(b"?", 1)[0] == http1.HEALTH_PATH.encode():
            self._reply(sid, svc.health)
        elif svc.instant:
            self._reply(sid, svc.behaviour.body())
        else:
            asyncio.get_running_loop().create_task(self._answer_later(sid, request_id))

    async def _answer_later(self, sid: int, request_id: bytes | None) -> None:
        svc = self.service
        failed = await svc.downstream(request_id) if svc.pools else ""
        if failed:
            self._reply(sid, failed.encode() + b"\n", b"502")
            return
        await svc.clock.sleep(svc.behaviour.work_s())
        body = svc.behaviour.body()
        if svc.config.stream_chunks > 0:
            await self._stream(sid, svc.behaviour.chunks(body))
        else:
            self._reply(sid, body)

    def _headers(self, sid: int, headers: list[tuple[bytes, bytes]], end: bool) -> bool:
        """Send headers on a stream still open; False when it is gone."""
        if self.transport is None or self.h2 is None:
            return False
        try:
            self.h2.send_headers(sid, headers, end_stream=end)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            return False
        self._flush()
        return True

    def _reply(self, sid: int, body: bytes, status: bytes = b"200") -> None:
        headers = [(b":status", status), OCTETS, (b"content-length", str(len(body)).encode())]
        if self._headers(sid, headers, end=not body):
            self._send(sid, body, True)

    async def _stream(self, sid: int, pieces: list[bytes]) -> None:
        """``pieces`` as separate DATA frames, ``chunk_interval_ms`` apart."""
        if not self._headers(sid, [(b":status", b"200"), OCTETS], False):
            return
        for i, piece in enumerate(pieces):
            if i:
                await self.service.clock.sleep(self.service.chunk_wait_s)
            flushed = self._send(sid, piece, i + 1 == len(pieces))
            if flushed is not None:
                try:
                    await flushed  # the window was full: wait for the peer first
                except ConnectionResetError:
                    return

    # -- flow control ------------------------------------------------------------------

    def _send(self, sid: int, data: bytes, end: bool) -> asyncio.Future[None] | None:
        """Send what the window allows now, the rest when it opens. Returns a future that
        completes when everything went out (None when it already did)."""
        pending = self.pending.get(sid)
        if pending is None:
            pending = self.pending[sid] = _Pending()
        pending.data += data
        pending.end = end
        self._resume(sid)
        if sid not in self.pending:
            return None
        if pending.flushed is None:
            pending.flushed = asyncio.get_running_loop().create_future()
        return pending.flushed

    def _resume(self, sid: int) -> None:
        """Send pending data of ``sid`` (0: of every stream) as far as the windows allow."""
        if self.h2 is None or self.transport is None:
            return
        for s in [sid] if sid else list(self.pending):
            p = self.pending.get(s)
            if p is None:
                continue
            try:
                ends = p.end  # the last DATA frame ends the stream
                while p.data:
                    window = self.h2.local_flow_control_window(s)
                    room = min(window, self.h2.max_outbound_frame_size)
                    if room <= 0:
                        break
                    chunk, p.data = bytes(p.data[:room]), p.data[room:]
                    self.h2.send_data(s, chunk, end_stream=ends and not p.data)
                    ends = ends and bool(p.data)  # False once sent with the last chunk
                if p.data:
                    continue  # the rest when the window opens
                if ends:  # nothing was left to carry the end
                    self.h2.send_data(s, b"", end_stream=True)
            except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
                pass  # the peer reset or closed it: nothing more to send
            self._drop_pending(s, done=True)
        self._flush()

    def _drop_pending(self, sid: int, done: bool = False) -> None:
        p = self.pending.pop(sid, None)
        if p is not None and p.flushed is not None and not p.flushed.done():
            if done:
                p.flushed.set_result(None)
            else:
                p.flushed.set_exception(ConnectionResetError(f"stream {sid} reset"))


async def serve(config: ServiceConfig, stop: asyncio.Event) -> None:
    """Serve until ``stop`` is set."""
    service = Service(config)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Connection(service), config.host, config.port, backlog=1024, reuse_address=True
    )
    print(f"{config.name} listening on {config.host}:{config.port} (h2c)", flush=True)
    try:
        await stop.wait()
    finally:
        server.close()
        await service.close()
        await server.wait_closed()
        await asyncio.sleep(0)  # the closed transports' last callbacks release their sockets
