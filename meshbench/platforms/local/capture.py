"""Transparent capture into the sidecar, the way istio-init programs iptables.

Inbound TCP to the pod is redirected to the sidecar's inbound listener (15006); outbound
TCP from the application is redirected to its outbound listener (15001). The sidecar's
own traffic (uid/gid 1337), the inbound passthrough source 127.0.0.6 and loopback
destinations are left alone, so nothing loops. The original destination survives the
REDIRECT and Envoy reads it back (SO_ORIGINAL_DST).
"""

from __future__ import annotations

from meshbench.platforms.local.names import INBOUND_PORT, INBOUND_SOURCE, OUTBOUND_PORT, PROXY_UID


def nat_rules(
    proxy_uid: int = PROXY_UID,
    inbound_port: int = INBOUND_PORT,
    outbound_port: int = OUTBOUND_PORT,
    capture_inbound: bool = True,
) -> str:
    """An ``iptables-restore`` input for the nat table of one pod's namespace."""
    lines = [
        "*nat",
        ":PREROUTING ACCEPT [0:0]",
        ":INPUT ACCEPT [0:0]",
        ":OUTPUT ACCEPT [0:0]",
        ":POSTROUTING ACCEPT [0:0]",
        ":MESHBENCH_INBOUND - [0:0]",
        ":MESHBENCH_IN_REDIRECT - [0:0]",
        ":MESHBENCH_OUTPUT - [0:0]",
        ":MESHBENCH_REDIRECT - [0:0]",
        f"-A MESHBENCH_IN_REDIRECT -p tcp -j REDIRECT --to-ports {inbound_port}",
        f"-A MESHBENCH_REDIRECT -p tcp -j REDIRECT --to-ports {outbound_port}",
    ]
    if capture_inbound:
        lines += [
            "-A PREROUTING -p tcp -j MESHBENCH_INBOUND",
            "-A MESHBENCH_INBOUND -p tcp -j MESHBENCH_IN_REDIRECT",
        ]
    lines += [
        "-A OUTPUT -p tcp -j MESHBENCH_OUTPUT",
        f"-A MESHBENCH_OUTPUT -o lo -s {INBOUND_SOURCE}/32 -j RETURN",
        f"-A MESHBENCH_OUTPUT -m owner --uid-owner {proxy_uid} -j RETURN",
        f"-A MESHBENCH_OUTPUT -m owner --gid-owner {proxy_uid} -j RETURN",
        "-A MESHBENCH_OUTPUT -d 127.0.0.1/32 -j RETURN",
        "-A MESHBENCH_OUTPUT -o lo -j RETURN",
        "-A MESHBENCH_OUTPUT -j MESHBENCH_REDIRECT",
        "COMMIT",
    ]
    return "\n".join(lines) + "\n"
