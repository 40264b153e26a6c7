"""The HTTP/1.1 sample service (aiohttp): keep-alive, or a new connection every N calls.

``GET /healthz`` answers at once (readiness, never calls downstream). ``GET /`` (any
other path) calls every downstream service in parallel, waits its work time, and answers
its payload (in chunks when streaming). A failed downstream call is a 502, so errors
reach the load generator.

Nagle is off on both sides: aiohttp sets TCP_NODELAY on server and client sockets, and
:func:`_nodelay` makes sure of it (a header/body split write with Nagle on costs ~40 ms).
"""

from __future__ import annotations

import asyncio
import itertools
import socket

from aiohttp import ClientSession, ClientTimeout, TCPConnector, web

from meshbench.service.behaviour import Behaviour, ServiceConfig

HEALTH_PATH = "/healthz"


def _nodelay(request: web.Request) -> None:
    sock = request.transport.get_extra_info("socket") if request.transport else None
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def build_app(config: ServiceConfig) -> web.Application:
    """The aiohttp application for ``config`` (the client session lives with the app)."""
    behaviour = Behaviour(config)
    app = web.Application()
    session_key = web.AppKey("session", ClientSession)
    calls_made = itertools.count(1)
    every = config.requests_per_connection
    chunk_wait_s = config.chunk_interval_ms / 1000.0

    async def on_startup(app: web.Application) -> None:
        connector = TCPConnector(
            limit=0, limit_per_host=0, keepalive_timeout=300, ttl_dns_cache=None
        )
        app[session_key] = ClientSession(
            connector=connector, timeout=ClientTimeout(total=config.downstream_timeout_s)
        )

    async def on_cleanup(app: web.Application) -> None:
        await app[session_key].close()

    async def call(session: ClientSession, url: str) -> int:
        # churn: every N-th call asks for its connection to be closed after the reply
        close = bool(every) and next(calls_made) % every == 0
        headers = {"Connection": "close"} if close else None
        async with session.get(url, headers=headers) as resp:
            await resp.read()
            return resp.status

    async def health(request: web.Request) -> web.Response:
        return web.Response(text=f"ok {config.name}\n")

    async def handle(request: web.Request) -> web.StreamResponse:
        _nodelay(request)
        if config.calls:
            session = request.app[session_key]
            try:
                statuses = await asyncio.gather(*(call(session, u + "/") for u in config.calls))
            except Exception as e:  # any downstream failure is this request's failure
                return web.Response(status=502, text=f"{config.name}: downstream failed: {e!r}\n")
            if any(s != 200 for s in statuses):
                return web.Response(status=502, text=f"{config.name}: downstream {statuses}\n")
        work_s = behaviour.work_s()
        if work_s > 0:
            await asyncio.sleep(work_s)
        body = behaviour.body()
        if config.stream_chunks <= 0:
            return web.Response(body=body, content_type="application/octet-stream")
        resp = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for i, piece in enumerate(behaviour.chunks(body)):
            if i and chunk_wait_s > 0:
                await asyncio.sleep(chunk_wait_s)
            await resp.write(piece)
        await resp.write_eof()
        return resp

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    app.router.add_get(HEALTH_PATH, health)
    app.router.add_get("/{tail:.*}", handle)
    return app


async def serve(config: ServiceConfig, stop: asyncio.Event) -> None:
    """Serve until ``stop`` is set."""
    runner = web.AppRunner(build_app(config), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port, backlog=1024, reuse_address=True)
    await site.start()
    print(f"{config.name} listening on {config.host}:{config.port} (http1)", flush=True)
    await stop.wait()
    await runner.cleanup()
