"""The h2c sample service in process: replies larger than the peer's flow-control window
arrive whole (the rest waits for WINDOW_UPDATE), streamed or not, on concurrent streams."""

from __future__ import annotations

import asyncio

import pytest

from meshbench.config.workload import PayloadMix
from meshbench.service.behaviour import ServiceConfig
from meshbench.service.h2client import H2Connection
from meshbench.service.h2server import serve

from .loopback import free_port

BIG = 1_000_000
"""Bytes: fifteen times HTTP/2's initial window (65,535)."""


@pytest.mark.parametrize("chunks", [0, 7], ids=["whole", "streamed"])
def test_a_reply_larger_than_the_window_arrives_whole(chunks: int) -> None:
    port = free_port()
    config = ServiceConfig(
        name="big",
        port=port,
        host="127.0.0.1",
        protocol="h2c",
        payload=PayloadMix.single(BIG),
        stream_chunks=chunks,
    )

    async def scenario() -> list[tuple[int, int]]:
        stop = asyncio.Event()
        task = asyncio.create_task(serve(config, stop))
        client = H2Connection("127.0.0.1", port)
        try:
            for _ in range(200):  # until it listens
                try:
                    await client.get("/healthz")
                    break
                except OSError:
                    await asyncio.sleep(0.01)
            replies = await asyncio.wait_for(
                asyncio.gather(*(client.get("/") for _ in range(3))), 20
            )
            return [(status, len(body)) for status, body in replies]
        finally:
            await client.aclose()
            stop.set()
            await task

    assert asyncio.run(scenario()) == [(200, BIG)] * 3
