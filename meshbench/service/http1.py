"""The HTTP/1.1 sample service: asyncio protocols with the httptools parser, kept lean so
its own time and jitter stay small beside a sidecar's.

``GET /healthz`` answers at once (readiness, never calls downstream). ``GET /`` (any other
path) calls every downstream service in parallel (:mod:`meshbench.service.http1client`),
waits its work time, and answers its payload (in chunks when streaming). A failed
downstream call is a 502, so errors reach the load generator. A request's ``x-request-id``
is passed on to its downstream calls.

Connections are kept alive unless the client asks otherwise (``Connection: close``, or
HTTP/1.0); requests on one connection are answered in order. A request that needs no
downstream call, no work and no streaming is answered from a prebuilt reply without a
task. Nagle is off.
"""

from __future__ import annotations

import asyncio
from collections import deque

import httptools

from meshbench.service.behaviour import Behaviour, ServiceConfig
from meshbench.service.http1client import REQUEST_ID_HEADER, DownstreamError, Pool, nodelay
from meshbench.service.worktime import WorkClock

HEALTH_PATH = "/healthz"
_OCTETS = b"Content-Type: application/octet-stream\r\n"


def _head(status: str, extra: bytes = b"") -> bytes:
    return f"HTTP/1.1 {status}\r\n".encode() + _OCTETS + extra


class _Replies:
    """Prebuilt replies: the payload of each size, with and without ``Connection: close``."""

    def __init__(self) -> None:
        self._cache: dict[tuple[bytes, bool], bytes] = {}

    def full(self, body: bytes, status: str = "200 OK", close: bool = False) -> bytes:
        key = (body, close)
        reply = self._cache.get(key) if status == "200 OK" else None
        if reply is None:
            extra = f"Content-Length: {len(body)}\r\n".encode()
            if close:
                extra += b"Connection: close\r\n"
            reply = _head(status, extra) + b"\r\n" + body
            if status == "200 OK":
                self._cache[key] = reply
        return reply


class _Request:
    """One parsed request: what the reply depends on."""

    __slots__ = ("close", "path", "request_id")

    def __init__(self, path: bytes, request_id: bytes | None, close: bool) -> None:
        self.path = path
        self.request_id = request_id
        self.close = close


class Service:
    """What every connection of one service shares: its behaviour and downstream pools."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.behaviour = Behaviour(config)
        self.pools = [
            Pool(url, config.downstream_timeout_s, config.requests_per_connection)
            for url in config.calls
        ]
        self.replies = _Replies()
        self.clock = WorkClock()
        self.health = f"ok {config.name}\n".encode()
        self.chunk_wait_s = config.chunk_interval_ms / 1000.0
        # answered without a task: nothing to wait for
        self.instant = not config.calls and not config.stream_chunks and config.work.median_ms <= 0
        self.connections: set[Connection] = set()

    async def downstream(self, request_id: bytes | None) -> bytes | None:
        """Call every downstream service; the 502 body when one failed, else None."""
        try:
            if len(self.pools) == 1:  # a chain: no task to gather
                statuses = [await self.pools[0].get(request_id)]
            else:
                statuses = await asyncio.gather(*(p.get(request_id) for p in self.pools))
        except DownstreamError as e:
            return f"{self.config.name}: downstream failed: {e}\n".encode()
        if any(s != 200 for s in statuses):
            return f"{self.config.name}: downstream {statuses}\n".encode()
        return None

    def close(self) -> None:
        for c in list(self.connections):
            if c.transport is not None:
                c.transport.close()
        for p in self.pools:
            p.close()
        self.clock.close()


class Connection(asyncio.Protocol):
    """One client connection: requests parsed as they come, answered one at a time."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.pending: deque[_Request] = deque()
        self.busy = False
        self._path = b"/"
        self._request_id: bytes | None = None

    # -- parser callbacks --------------------------------------------------------------

    def on_url(self, url: bytes) -> None:
        self._path = url

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == REQUEST_ID_HEADER:
            self._request_id = value

    def on_message_complete(self) -> None:
        req = _Request(self._path, self._request_id, not self.parser.should_keep_alive())
        self._path, self._request_id = b"/", None
        if self.busy:
            self.pending.append(req)
        else:
            self._start(req)

    # -- transport ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        nodelay(transport)
        self.service.connections.add(self)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._write(self.service.replies.full(b"", "501 Not Implemented", close=True), True)
        except httptools.HttpParserError:
            self._write(self.service.replies.full(b"", "400 Bad Request", close=True), True)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.service.connections.discard(self)

    # -- answering ---------------------------------------------------------------------

    def _write(self, data: bytes, close: bool) -> None:
        if self.transport is None:
            return
        self.transport.write(data)
        if close:
            self.transport.close()
            self.transport = None

    def _start(self, req: _Request) -> None:
        svc = self.service
        if req.path.split(b"?", 1)[0] == HEALTH_PATH.encode():
            self._write(svc.replies.full(svc.health, close=req.close), req.close)
        elif svc.instant:
            self._write(svc.replies.full(svc.behaviour.body(), close=req.close), req.close)
        else:
            self.busy = True
            asyncio.get_running_loop().create_task(self._answer(req))
            return
        self._next()

    def _next(self) -> None:
        if self.pending and self.transport is not None:
            self._start(self.pending.popleft())

    async def _answer(self, req: _Request) -> None:
        svc = self.service
        try:
            failed = await svc.downstream(req.request_id) if svc.pools else None
            if failed is not None:
                self._write(svc.replies.full(failed, "502 Bad Gateway", req.close), req.close)
                return
            await svc.clock.sleep(svc.behaviour.work_s())
            body = svc.behaviour.body()
            if svc.config.stream_chunks <= 0:
                self._write(svc.replies.full(body, close=req.close), req.close)
            else:
                await self._stream(body, req.close)
        finally:
            self.busy = False
            self._next()

    async def _stream(self, body: bytes, close: bool) -> None:
        """The body in ``stream_chunks`` chunks (chunked transfer encoding), spaced by
        ``chunk_interval_ms``."""
        svc = self.service
        extra = b"Transfer-Encoding: chunked\r\n" + (b"Connection: close\r\n" if close else b"")
        self._write(_head("200 OK", extra) + b"\r\n", False)
        for i, piece in enumerate(svc.behaviour.chunks(body)):
            if i:
                await svc.clock.sleep(svc.chunk_wait_s)
            if piece:
                self._write(b"%x\r\n%b\r\n" % (len(piece), piece), False)
        self._write(b"0\r\n\r\n", close)


async def serve(config: ServiceConfig, stop: asyncio.Event) -> None:
    """Serve until ``stop`` is set."""
    service = Service(config)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Connection(service), config.host, config.port, backlog=1024, reuse_address=True
    )
    print(f"{config.name} listening on {config.host}:{config.port} (http1)", flush=True)
    try:
        await stop.wait()
    finally:
        server.close()
        service.close()
        await server.wait_closed()
        await asyncio.sleep(0)  # the closed transports' last callbacks release their sockets
