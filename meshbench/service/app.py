"""A small HTTP service: optional simulated work, parallel downstream calls, a payload.

``GET /healthz`` answers at once (readiness, never calls downstream).
``GET /`` (any other path) calls every downstream URL in parallel over a keep-alive
pool with no connection limit, waits ``work_ms``, and returns ``payload_bytes`` bytes.
A failed downstream call turns into a 502, so errors propagate to the load generator.

Nagle is off on both sides: aiohttp sets TCP_NODELAY on server and client sockets, and
:func:`_nodelay` makes sure of it (a header/body split write with Nagle on costs ~40 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiohttp import ClientSession, ClientTimeout, TCPConnector, web

from meshbench.topology import ServiceSpec

HEALTH_PATH = "/healthz"


@dataclass(frozen=True)
class ServiceConfig:
    """What one pod's service does for every request."""

    name: str
    port: int = 8080
    host: str = "0.0.0.0"
    payload_bytes: int = 1024
    work_ms: float = 0.0
    calls: tuple[str, ...] = field(default=())  # downstream base URLs, e.g. http://10.0.0.2:8080
    downstream_timeout_s: float = 30.0


def _nodelay(request: web.Request) -> None:
    sock = request.transport.get_extra_info("socket") if request.transport else None
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def build_app(config: ServiceConfig) -> web.Application:
    """The aiohttp application for ``config`` (the client session lives with the app)."""
    payload = b"x" * config.payload_bytes
    work_s = config.work_ms / 1000.0
    app = web.Application()
    session_key = web.AppKey("session", ClientSession)

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
        async with session.get(url) as resp:
            await resp.read()
            return resp.status

    async def health(request: web.Request) -> web.Response:
        return web.Response(text=f"ok {config.name}\n")

    async def handle(request: web.Request) -> web.Response:
        _nodelay(request)
        if config.calls:
            session = request.app[session_key]
            try:
                statuses = await asyncio.gather(*(call(session, u + "/") for u in config.calls))
            except Exception as e:  # any downstream failure is this request's failure
                return web.Response(status=502, text=f"{config.name}: downstream failed: {e!r}\n")
            if any(s != 200 for s in statuses):
                return web.Response(status=502, text=f"{config.name}: downstream {statuses}\n")
        if work_s > 0:
            await asyncio.sleep(work_s)
        return web.Response(body=payload, content_type="application/octet-stream")

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    app.router.add_get(HEALTH_PATH, health)
    app.router.add_get("/{tail:.*}", handle)
    return app


async def serve(config: ServiceConfig) -> None:
    """Serve until SIGTERM or SIGINT."""
    runner = web.AppRunner(build_app(config), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port, backlog=1024, reuse_address=True)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"{config.name} listening on {config.host}:{config.port}", flush=True)
    await stop.wait()
    await runner.cleanup()


def service_args(
    spec: ServiceSpec, port: int, call_urls: Sequence[str], host: str | None = None
) -> list[str]:
    """Arguments of ``python -m meshbench.service`` for ``spec`` (every platform uses this).

    ``call_urls`` are the downstream base URLs, one per ``spec.calls`` entry, as the
    platform resolves them (pod addresses locally, Service DNS names on Kubernetes).
    """
    args = [
        "--name",
        spec.name,
        "--port",
        str(port),
        "--payload-bytes",
        str(spec.payload_bytes),
        "--work-ms",
        f"{spec.work_ms:g}",
    ]
    if host is not None:
        args += ["--host", host]
    for url in call_urls:
        args += ["--call", url]
    return args


def parse_args(argv: Sequence[str] | None = None) -> ServiceConfig:
    p = argparse.ArgumentParser(prog="python -m meshbench.service", description=__doc__)
    p.add_argument("--name", required=True)
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--payload-bytes", type=int, default=1024)
    p.add_argument("--work-ms", type=float, default=0.0)
    p.add_argument("--call", action="append", default=[], help="downstream base URL (repeatable)")
    a = p.parse_args(argv)
    return ServiceConfig(
        name=a.name,
        port=a.port,
        host=a.host,
        payload_bytes=a.payload_bytes,
        work_ms=a.work_ms,
        calls=tuple(u.rstrip("/") for u in a.call),
    )


def main(argv: Sequence[str] | None = None) -> None:
    asyncio.run(serve(parse_args(argv)))
