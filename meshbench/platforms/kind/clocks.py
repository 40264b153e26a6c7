"""The kind nodes' clock against this host's.

The platform sends wall times to the cluster (the load workers' shared schedule origin,
``MB_START_AT``) and compares the cluster's own stamps with them (the kubelet's CPU sample
times against the measured phase). On Linux the nodes are containers on this host's
kernel, so they share its clock; on Docker Desktop (macOS, Windows) they run in a VM with
a clock of its own. So before a run each node's clock is read (``docker exec NODE date
+%s.%N``, compared with this host's halfway through the call) and the skew is either
used, every wall time the platform sends or compares being taken in node time, or
refused with its size when it is too large to trust or the nodes disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from meshbench.errors import PlatformError

MAX_SKEW_S = 10.0
"""Beyond this the VM's clock is taken to be adrift (it may move again during the run):
the run is refused rather than corrected."""
MAX_NODE_SPREAD_S = 0.25
"""Nodes of one kind cluster share one kernel; clocks further apart than this (beyond
the measurement's own uncertainty) mean something is wrong."""
NOISE_S = 0.05
"""A skew within the measurement's uncertainty plus this is no skew: nothing is shifted."""


@dataclass(frozen=True)
class NodeClock:
    """One node's clock minus this host's (s), and half the read's round trip (s)."""

    node: str
    skew_s: float
    uncertainty_s: float


def measure(
    nodes: Sequence[str], read_node: Callable[[str], str], wall: Callable[[], float]
) -> list[NodeClock]:
    """Each node's skew: its ``date +%s.%N`` (``read_node``) against ``wall`` taken on
    either side of the read. Raises ValueError for an answer that is not a time."""
    out = []
    for node in nodes:
        before = wall()
        answer = read_node(node).strip()
        after = wall()
        node_s = float(answer.splitlines()[-1]) if answer else float("nan")
        if node_s != node_s:  # NaN: empty or not a number
            raise ValueError(f"node {node} answered {answer!r}, not a time")
        out.append(NodeClock(node, node_s - (before + after) / 2, (after - before) / 2))
    return out


def skew_to_use(clocks: Sequence[NodeClock]) -> float:
    """The skew (node - host, s) to apply to every wall time: 0 when the nodes share this
    host's clock within the measurement. Raises PlatformError when it is too large or the
    nodes disagree."""
    if not clocks:
        return 0.0
    skews = [c.skew_s for c in clocks]
    uncertainty_s = max(c.uncertainty_s for c in clocks)
    spread_s = max(skews) - min(skews)
    if spread_s > MAX_NODE_SPREAD_S + 2 * uncertainty_s:
        raise PlatformError(
            "the kind nodes' clocks disagree by "
            f"{spread_s:.2f} s ({describe(clocks)}): their stamps cannot be compared",
            fix="restart the cluster's nodes (or Docker Desktop) so they share one clock",
        )
    skew_s = sum(skews) / len(skews)
    if abs(skew_s) > MAX_SKEW_S:
        raise PlatformError(
            f"the kind nodes' clock is {skew_s:+.1f} s off this host's ({describe(clocks)}), "
            f"more than the ±{MAX_SKEW_S:g} s meshbench corrects: the shared start of the "
            "load workers and the CPU windows would be off by that much",
            fix="sync the clocks: on Docker Desktop restart it (its VM's clock drifts while "
            "the host sleeps); on Linux check the host's time sync (timedatectl)",
        )
    return 0.0 if abs(skew_s) <= uncertainty_s + NOISE_S else skew_s


def describe(clocks: Sequence[NodeClock]) -> str:
    return ", ".join(f"{c.node} {c.skew_s:+.3f} s ±{c.uncertainty_s:.3f}" for c in clocks)


def record(clocks: Sequence[NodeClock], used_s: float) -> dict[str, Any]:
    """For run.json: each node's skew and the one applied."""
    return {
        "applied_s": round(used_s, 4),
        "nodes": {
            c.node: {"skew_s": round(c.skew_s, 4), "uncertainty_s": round(c.uncertainty_s, 4)}
            for c in clocks
        },
    }
