"""Names and addresses of everything the local platform creates.

Every network namespace is called ``mb-<run>-<...>`` where ``<run>`` is 6 hex digits,
so :mod:`meshbench.platforms.local.cleanup` can find what a killed run left behind
without touching anything else.
"""

from __future__ import annotations

import ipaddress
import re
import secrets

NETNS_PREFIX = "mb-"
NETNS_RE = re.compile(r"^mb-[0-9a-f]{6}-[a-z0-9-]+$")
STATE_ROOT = "/tmp"
RUN_KEY_ENV = "MESHBENCH_RUN_KEY"
"""Set in the environment of every process a local run starts (apps, sidecars, generator),
so ``meshbench clean`` finds one even if its namespace is already gone."""
STATE_PREFIX = "meshbench-"

POD_NETWORK = ipaddress.ip_network("198.18.0.0/16")
"""Inside the RFC 2544 benchmarking range 198.18.0.0/15: never routed on real networks."""

PROXY_UID = 1337
"""The sidecar's uid and gid: its own traffic is excluded from capture (as in Istio)."""

OUTBOUND_PORT = 15001
INBOUND_PORT = 15006
INBOUND_SOURCE = "127.0.0.6"
"""Inbound passthrough source address, as in Istio: the app sees it as the peer."""

LOAD_POD = "load"


def new_run_key() -> str:
    """A short random key identifying one run's resources."""
    return secrets.token_hex(3)


def netns_name(run_key: str, *parts: str) -> str:
    """``mb-<run>-<parts...>``; must stay a valid file name."""
    return "-".join([f"{NETNS_PREFIX}{run_key}", *parts])


def pod_address(mesh_index: int, pod_index: int) -> str:
    """The pod's IPv4 address: 198.18.<mesh>.<pod + 10>."""
    if not 0 <= mesh_index < 250 or not 0 <= pod_index < 240:
        raise ValueError("too many meshes or pods for the local address plan")
    return str(POD_NETWORK.network_address + mesh_index * 256 + pod_index + 10)


def hub_address() -> str:
    """The bridge's own address (used by nothing but kept out of the pod range)."""
    return str(POD_NETWORK.network_address + 1)
