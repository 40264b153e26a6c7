"""Reference targets on loopback for calibrating the generator (benchmarks and tests).

An Envoy that answers every request itself (``direct_response``) is the fastest HTTP
server at hand: whatever latency the generator then reports is mostly its own.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from meshbench.platforms.local.envoy import envoy_binary
from meshbench.platforms.local.probe import wait_ok


def instant_envoy_config(port: int, body: str = "ok") -> dict[str, object]:
    """Bootstrap of an Envoy answering 200 ``body`` on 127.0.0.1:``port``."""
    hcm = (
        "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
        "HttpConnectionManager"
    )
    return {
        "static_resources": {
            "listeners": [
                {
                    "name": "instant",
                    "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
                    "filter_chains": [
                        {
                            "filters": [
                                {
                                    "name": "envoy.filters.network.http_connection_manager",
                                    "typed_config": {
                                        "@type": hcm,
                                        "stat_prefix": "instant",
                                        "route_config": {
                                            "virtual_hosts": [
                                                {
                                                    "name": "all",
                                                    "domains": ["*"],
                                                    "routes": [
                                                        {
                                                            "match": {"prefix": "/"},
                                                            "direct_response": {
                                                                "status": 200,
                                                                "body": {"inline_string": body},
                                                            },
                                                        }
                                                    ],
                                                }
                                            ]
                                        },
                                        "http_filters": [
                                            {
                                                "name": "envoy.filters.http.router",
                                                "typed_config": {
                                                    "@type": "type.googleapis.com/envoy.extensions."
                                                    "filters.http.router.v3.Router"
                                                },
                                            }
                                        ],
                                    },
                                }
                            ]
                        }
                    ],
                }
            ]
        }
    }


@contextmanager
def instant_envoy(port: int, cpus: str | None = None, concurrency: int = 1) -> Iterator[str]:
    """Run an instant Envoy on loopback (pinned to ``cpus``); yields its URL."""
    with tempfile.TemporaryDirectory(prefix="meshbench-instant-") as d:
        cfg = Path(d) / "envoy.json"
        cfg.write_text(json.dumps(instant_envoy_config(port)))
        argv = [
            envoy_binary(),
            "-c",
            str(cfg),
            "--concurrency",
            str(concurrency),
            "--log-level",
            "error",
            "--disable-hot-restart",
            "--use-dynamic-base-id",
        ]
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
