"""Reference targets on loopback for calibrating the generator (benchmarks and tests).

An Envoy that answers every request itself (``direct_response``; the ``server: envoy``
app of :mod:`meshbench.service.envoy_app`) is the fastest HTTP server at hand: whatever
latency the generator then reports is mostly its own.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

from meshbench.config.workload import PayloadMix
from meshbench.platforms.local.envoy import envoy_binary
from meshbench.platforms.local.probe import wait_ok
from meshbench.service import envoy_app
from meshbench.service.behaviour import ServiceConfig


@contextmanager
def instant_envoy(
    port: int, cpus: str | None = None, concurrency: int = 1, payload_bytes: int = 2
) -> Iterator[str]:
    """Run an instant Envoy on loopback (pinned to ``cpus``); yields its URL."""
    service = ServiceConfig(
        name="instant", port=port, host="127.0.0.1", payload=PayloadMix.single(payload_bytes)
    )
    argv = envoy_app.argv(service, envoy_binary(), concurrency)
    if cpus:
        argv = ["taskset", "-c", cpus, *argv]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/"
        failed = wait_ok([url], deadline_s=20)
        if failed:
            raise RuntimeError(f"instant Envoy did not answer: {failed}")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
