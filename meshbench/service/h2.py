"""The HTTP/2 cleartext sample service (Hypercorn, ASGI): the same behaviour as the
HTTP/1.1 one, served to clients that speak HTTP/2 with prior knowledge (and to HTTP/1.1
probes on the same port). Downstream calls go over HTTP/2 too
(:mod:`meshbench.service.h2client`), one multiplexed connection per downstream service,
replaced every N calls when churning.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config

from meshbench.service.behaviour import Behaviour, ServiceConfig, split_url
from meshbench.service.h2client import H2Connection
from meshbench.service.http1 import HEALTH_PATH
from meshbench.service.rotation import Rotating

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_OCTETS = [(b"content-type", b"application/octet-stream")]


def build_app(config: ServiceConfig) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The ASGI application for ``config``."""
    behaviour = Behaviour(config)
    pools: dict[str, Rotating[H2Connection]] = {}
    chunk_wait_s = config.chunk_interval_ms / 1000.0

    def pool(url: str) -> Rotating[H2Connection]:
        if url not in pools:
            pools[url] = Rotating(
                lambda: H2Connection(*split_url(url)),
                lambda c: c.aclose(),
                config.requests_per_connection,
            )
        return pools[url]

    async def call(url: str) -> int:
        async with pool(url).use() as conn:
            status, _ = await asyncio.wait_for(conn.get("/"), config.downstream_timeout_s)
            return status

    async def reply(send: Send, status: int, body: bytes) -> None:
        await send({"type": "http.response.start", "status": status, "headers": _OCTETS})
        await send({"type": "http.response.body", "body": body})

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            for p in pools.values():
                await p.aclose()
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        if scope["path"] == HEALTH_PATH:
            await reply(send, 200, f"ok {config.name}\n".encode())
            return
        if config.calls:
            try:
                statuses = await asyncio.gather(*(call(u) for u in config.calls))
            except Exception as e:  # any downstream failure is this request's failure
                await reply(send, 502, f"{config.name}: downstream failed: {e!r}\n".encode())
                return
            if any(s != 200 for s in statuses):
                await reply(send, 502, f"{config.name}: downstream {statuses}\n".encode())
                return
        work_s = behaviour.work_s()
        if work_s > 0:
            await asyncio.sleep(work_s)
        body = behaviour.body()
        await send({"type": "http.response.start", "status": 200, "headers": _OCTETS})
        pieces = behaviour.chunks(body)  # one piece unless the response streams
        for i, piece in enumerate(pieces):
            if i and chunk_wait_s > 0:
                await asyncio.sleep(chunk_wait_s)
            more = i + 1 < len(pieces)
            await send({"type": "http.response.body", "body": piece, "more_body": more})

    return app


async def serve(config: ServiceConfig, stop: asyncio.Event) -> None:
    """Serve until ``stop`` is set."""
    hc = Config()
    hc.bind = [f"{config.host}:{config.port}"]
    hc.accesslog = None
    hc.errorlog = None
    hc.backlog = 1024
    hc.keep_alive_timeout = 300
    # Hypercorn ends a connection after 1,000 requests by default (abruptly for HTTP/2: a
    # GOAWAY that failed requests in flight, 650 of 1,200 in one trial); connections here
    # end when the scenario's churn says so, never by a server default.
    hc.keep_alive_max_requests = 2**62
    hc.h2_max_concurrent_streams = 1000
    print(f"{config.name} listening on {config.host}:{config.port} (h2c)", flush=True)
    await hypercorn_serve(build_app(config), hc, shutdown_trigger=stop.wait)  # type: ignore[arg-type]
