"""The HTTP/1.1 sample service's protocol handling, in process over loopback: replies in
request order, keep-alive and close as the client asks, request ids passed downstream,
churn, timeouts and garbage turned into replies, not hangs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from meshbench.config.workload import PayloadMix, Work
from meshbench.service.behaviour import ServiceConfig
from meshbench.service.http1 import serve

from .loopback import free_port

GET = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
HEALTH = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"


async def _with_service(
    config: ServiceConfig,
    body: Callable[[int], Awaitable[None]],
    timeout_s: float = 10,
    downstream: Downstream | None = None,
) -> None:
    """Serve ``config`` (and ``downstream`` first, on the port its calls name) while
    ``body(port)`` runs; stop both and close every connection after it."""
    server = None
    if downstream is not None:
        port = int(config.calls[0].rsplit(":", 1)[1])
        server = await asyncio.start_server(downstream.handle, "127.0.0.1", port)
    stop = asyncio.Event()
    task = asyncio.create_task(serve(config, stop))
    for _ in range(200):  # until it listens
        try:
            _, w = await asyncio.open_connection("127.0.0.1", config.port)
            await _close(w)
            break
        except OSError:
            await asyncio.sleep(0.01)
    try:
        await asyncio.wait_for(body(config.port), timeout_s)
    finally:
        stop.set()
        await task
        if server is not None and downstream is not None:
            server.close()
            await downstream.closed()


async def _close(w: asyncio.StreamWriter) -> None:
    w.close()
    await w.wait_closed()


async def _reply(reader: asyncio.StreamReader) -> tuple[int, dict[bytes, bytes], bytes]:
    """One reply: status, headers (lower-case names), body (Content-Length or chunked)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = dict(
        (k.strip().lower(), v.strip()) for k, _, v in (x.partition(b":") for x in lines[1:] if x)
    )
    if b"content-length" in headers:
        return status, headers, await reader.readexactly(int(headers[b"content-length"]))
    body = b""
    while True:
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        chunk = await reader.readexactly(size + 2)
        if not size:
            return status, headers, body
        body += chunk[:-2]


def config(port: int, **kw: object) -> ServiceConfig:
    base: dict[str, object] = {"name": "svc", "port": port, "host": "127.0.0.1"}
    return ServiceConfig(**{**base, **kw})  # type: ignore[arg-type]


def test_pipelined_requests_are_answered_in_order() -> None:
    """The middle request waits 30 ms of work; the instant ones after it must not overtake."""

    async def body(port: int) -> None:
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(HEALTH + GET + HEALTH)
        replies = [await _reply(r) for _ in range(3)]
        await _close(w)
        assert [(s, b[:6]) for s, _, b in replies] == [
            (200, b"ok svc"),
            (200, b"xxxxxx"),
            (200, b"ok svc"),
        ]
        assert len(replies[1][2]) == 100

    cfg = config(free_port(), work=Work("constant", 30.0), payload=PayloadMix.single(100))
    asyncio.run(_with_service(cfg, body))


def test_keep_alive_unless_the_client_asks_to_close() -> None:
    async def body(port: int) -> None:
        r, w = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(3):  # kept alive
            w.write(GET)
            status, headers, _ = await _reply(r)
            assert status == 200 and b"connection" not in headers
        w.write(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        status, headers, _ = await _reply(r)
        assert headers[b"connection"] == b"close"
        assert await r.read() == b""  # and closed
        await _close(w)
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(b"GET / HTTP/1.0\r\n\r\n")  # HTTP/1.0 without keep-alive: closed too
        assert (await _reply(r))[0] == 200
        assert await r.read() == b""
        await _close(w)

    asyncio.run(_with_service(config(free_port()), body))


def test_garbage_is_a_400_and_a_close_not_a_hang() -> None:
    async def body(port: int) -> None:
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(b"NOT HTTP AT ALL\r\n\r\n")
        assert (await _reply(r))[0] == 400
        assert await r.read() == b""
        await _close(w)

    asyncio.run(_with_service(config(free_port()), body))


class Downstream:
    """A raw HTTP/1.1 server recording every request's bytes and connection."""

    def __init__(self, reply_after_s: float = 0.0) -> None:
        self.requests: list[tuple[int, bytes]] = []  # (connection number, request head)
        self.connections = 0
        self.reply_after_s = reply_after_s
        self.handlers: list[asyncio.Task[None]] = []

    async def closed(self) -> None:
        """Every connection handled to its end (a reply still waited for is cancelled)."""
        for t in self.handlers:
            if self.reply_after_s:
                t.cancel()
        await asyncio.gather(*self.handlers, return_exceptions=True)

    async def handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self.connections += 1
        conn = self.connections
        task = asyncio.current_task()
        assert task is not None
        self.handlers.append(task)
        try:
            while True:
                head = await r.readuntil(b"\r\n\r\n")
                self.requests.append((conn, head))
                await asyncio.sleep(self.reply_after_s)
                w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                if b"connection: close" in head.lower():
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            w.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await w.wait_closed()


def test_request_ids_and_churn_reach_the_downstream_service() -> None:
    down = Downstream()

    async def body(port: int) -> None:
        r, w = await asyncio.open_connection("127.0.0.1", port)
        for i in range(5):
            w.write(b"GET / HTTP/1.1\r\nHost: t\r\nX-Request-Id: req-%d\r\n\r\n" % i)
            assert (await _reply(r))[0] == 200
        await _close(w)

    cfg = config(free_port(), calls=(f"http://127.0.0.1:{free_port()}",), requests_per_connection=2)
    asyncio.run(_with_service(cfg, body, downstream=down))
    heads = [h.lower() for _, h in down.requests]
    assert [h.split(b"x-request-id: ")[1].split(b"\r\n")[0] for h in heads] == [
        b"req-%d" % i for i in range(5)
    ]
    # every 2nd request on a connection asks to close it; the next opens a new one
    assert [b"connection: close" in h for h in heads] == [False, True, False, True, False]
    assert [c for c, _ in down.requests] == [1, 1, 2, 2, 3]


def test_a_downstream_that_never_answers_is_a_502_within_the_timeout() -> None:
    down = Downstream(reply_after_s=30)

    async def body(port: int) -> None:
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(GET)
        status, _, text = await _reply(r)
        assert status == 502 and b"no reply within 0.2 s" in text, text
        w.write(HEALTH)  # the connection is still served
        assert (await _reply(r))[0] == 200
        await _close(w)

    cfg = config(free_port(), calls=(f"http://127.0.0.1:{free_port()}",), downstream_timeout_s=0.2)
    asyncio.run(_with_service(cfg, body, timeout_s=5, downstream=down))


def test_a_streamed_reply_comes_in_its_chunks() -> None:
    async def body(port: int) -> None:
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(GET)
        status, headers, data = await _reply(r)
        assert status == 200 and headers[b"transfer-encoding"] == b"chunked"
        assert data == b"x" * 1000
        await _close(w)

    cfg = config(free_port(), payload=PayloadMix.single(1000), stream_chunks=4)
    asyncio.run(_with_service(cfg, body))
