"""Downstream HTTP/1.1 calls of the sample service: a pool of keep-alive connections per
downstream service, on asyncio protocols with the httptools response parser.

Each call takes an idle connection (or opens one: the pool has no limit, so a burst never
queues behind a pool), writes one prebuilt GET, and waits for the whole reply. With churn
(``requests_per_connection`` N), a connection's N-th request asks the server to close it
after the reply. Nagle is off on every connection.
"""

from __future__ import annotations

import asyncio
import socket

import httptools

from meshbench.service.behaviour import split_url

REQUEST_ID_HEADER = b"x-request-id"
"""Passed on from the request being served to every downstream call it makes, as a
traced application does (and as Envoy's request ids expect)."""


def nodelay(transport: asyncio.BaseTransport) -> None:
    """Turn Nagle off on a TCP transport (a split write with Nagle on costs ~40 ms)."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class DownstreamError(Exception):
    """A downstream call that got no complete reply (refused, reset, timed out, garbled)."""


class _Connection(asyncio.Protocol):
    """One keep-alive client connection: one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.reply: asyncio.Future[int] | None = None
        self.keep_alive = True
        self.sent = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        nodelay(transport)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as e:
            self._fail(DownstreamError(f"unparsable reply: {e}"))

    def on_message_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()
        if self.reply is not None and not self.reply.done():
            self.reply.set_result(self.parser.get_status_code())

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._fail(DownstreamError(f"connection closed before the reply ({exc or 'EOF'})"))

    def _fail(self, error: Exception) -> None:
        if self.reply is not None and not self.reply.done():
            self.reply.set_exception(error)
        self.close()

    def close(self) -> None:
        self.keep_alive = False
        if self.transport is not None:
            self.transport.close()
            self.transport = None


class Pool:
    """Keep-alive connections to one downstream service (``http://host:port``)."""

    def __init__(self, url: str, timeout_s: float, requests_per_connection: int = 0) -> None:
        self.host, self.port = split_url(url)
        self.timeout_s = timeout_s
        self.every = requests_per_connection
        self._idle: list[_Connection] = []
        self._head = f"GET / HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n".encode()

    async def _connection(self) -> _Connection:
        while self._idle:
            conn = self._idle.pop()
            if conn.transport is not None and conn.keep_alive:
                return conn
        loop = asyncio.get_running_loop()
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(_Connection, self.host, self.port), self.timeout_s
            )
        except (OSError, TimeoutError) as e:
            raise DownstreamError(f"cannot connect to {self.host}:{self.port}: {e!r}") from e
        return conn

    async def get(self, request_id: bytes | None = None) -> int:
        """One GET /; returns the reply's status. Raises :class:`DownstreamError`."""
        conn = await self._connection()
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[int] = loop.create_future()
        conn.reply = reply
        conn.sent += 1
        closing = bool(self.every) and conn.sent >= self.every
        head = self._head
        if request_id is not None:
            head += REQUEST_ID_HEADER + b": " + request_id + b"\r\n"
        if closing:
            head += b"Connection: close\r\n"
        assert conn.transport is not None
        conn.transport.write(head + b"\r\n")
        timer = loop.call_later(self.timeout_s, _time_out, conn, self.timeout_s)
        try:
            status = await reply
        finally:
            timer.cancel()
            conn.reply = None
        if closing or not conn.keep_alive:
            conn.close()
        else:
            self._idle.append(conn)
        return status

    def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()


def _time_out(conn: _Connection, timeout_s: float) -> None:
    conn._fail(DownstreamError(f"no reply within {timeout_s:g} s"))
