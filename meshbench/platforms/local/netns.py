"""Network namespaces joined by veth pairs to one bridge in a hub namespace.

Nothing is created in the caller's own network namespace: the bridge lives in
``mb-<run>-hub``, and deleting a namespace deletes its veth ends and iptables rules.
"""

from __future__ import annotations

from collections.abc import Sequence

from meshbench.platforms.commands import run
from meshbench.platforms.local.names import NETNS_RE, POD_NETWORK

BRIDGE = "br0"
POD_IFACE = "eth0"


def exec_prefix(netns: str) -> list[str]:
    """argv prefix that runs a command inside ``netns``."""
    return ["ip", "netns", "exec", netns]


def list_netns() -> list[str]:
    """Names of all named network namespaces."""
    out = run(["ip", "netns", "list"]).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def add(netns: str) -> None:
    """Create ``netns`` with its loopback up."""
    run(["ip", "netns", "add", netns])
    run(["ip", "-n", netns, "link", "set", "lo", "up"])


def delete(netns: str) -> None:
    """Delete ``netns`` if it exists (its interfaces and rules go with it)."""
    if netns in list_netns():
        run(["ip", "netns", "del", netns], check=False)


def add_hub(hub: str, address: str) -> None:
    """Create the hub namespace with a bridge holding ``address``."""
    add(hub)
    run(["ip", "-n", hub, "link", "add", BRIDGE, "type", "bridge"])
    run(["ip", "-n", hub, "addr", "add", f"{address}/{POD_NETWORK.prefixlen}", "dev", BRIDGE])
    run(["ip", "-n", hub, "link", "set", BRIDGE, "up"])


def add_pod(hub: str, pod: str, index: int, address: str) -> None:
    """Create ``pod`` and plug it into the hub's bridge with ``address``."""
    add(pod)
    host_end = f"vp{index}"  # interface names are limited to 15 characters
    run(
        [
            "ip",
            "-n",
            hub,
            "link",
            "add",
            host_end,
            "type",
            "veth",
            "peer",
            "name",
            POD_IFACE,
            "netns",
            pod,
        ]
    )
    run(["ip", "-n", hub, "link", "set", host_end, "master", BRIDGE])
    run(["ip", "-n", hub, "link", "set", host_end, "up"])
    run(["ip", "-n", pod, "addr", "add", f"{address}/{POD_NETWORK.prefixlen}", "dev", POD_IFACE])
    run(["ip", "-n", pod, "link", "set", POD_IFACE, "up"])


def pids(netns: str) -> list[int]:
    """Processes whose network namespace is ``netns``."""
    out = run(["ip", "netns", "pids", netns], check=False).stdout
    return [int(p) for p in out.split() if p.isdigit()]


def ours(names: Sequence[str]) -> list[str]:
    """The namespaces among ``names`` that meshbench created."""
    return [n for n in names if NETNS_RE.match(n)]
