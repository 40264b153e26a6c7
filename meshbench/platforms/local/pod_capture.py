"""Attribution mode's captures: tcpdump in every pod of a deployment, from before its first
process starts until after the last one stops, so every connection (and every TLS
handshake and HTTP/2 header table) is captured from its first byte.

Each pod gets one tcpdump on ``any`` (its veth and its loopback): Linux cooked v2 headers
(which carry the interface index), full packets, nanosecond stamps, each packet handed
over and written as it comes (``--immediate-mode``: libpcap otherwise hands packets over
in blocks, and a tcpdump stopped before its block timeout drops its last block). The
capture processes run on the load generator's CPUs: the kernel copies each packet where
it is sent or received (the pods' CPU, part of what the observer effect measures), while
tcpdump's own reading and writing stays off the pods' core.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from meshbench.errors import PlatformError
from meshbench.platforms.local.procs import Owned, ProcessSet, wrap

READY_S = 10.0
"""How long a tcpdump may take to start capturing."""
CAPTURE_FILE = "capture.pcap"
BUFFER_KIB = 32768
"""Kernel capture buffer per pod: a burst waits here rather than being dropped."""

_DROPPED = re.compile(r"(\d+) packets? dropped by kernel")
_CAPTURED = re.compile(r"(\d+) packets? captured")


def tcpdump_argv(path: Path) -> list[str]:
    """tcpdump capturing every TCP packet of a namespace into ``path``."""
    return [
        "tcpdump",
        "-i",
        "any",
        "-y",
        "LINUX_SLL2",
        "-s",
        "0",
        "-B",
        str(BUFFER_KIB),
        "-U",
        "--immediate-mode",
        "-n",
        "-Z",
        "root",
        "--time-stamp-precision=nano",
        "-w",
        str(path),
        "tcp",
    ]


@dataclass
class CaptureStats:
    """What a pod's tcpdump said when it stopped."""

    captured: int | None
    dropped: int | None


class PodCaptures:
    """One tcpdump per pod, owned by the deployment's process set (so it is stopped on
    every exit path with the rest)."""

    def __init__(self, procs: ProcessSet, state_dir: Path, cpus: str | None) -> None:
        self.procs = procs
        self.state_dir = state_dir
        self.cpus = cpus
        self.files: dict[str, Path] = {}
        self._owned: dict[str, Owned] = {}

    def start(self, netns: dict[str, str]) -> None:
        """Start capturing in every pod (``pod -> namespace``); returns once each one
        captures."""
        for pod, ns in netns.items():
            d = self.state_dir / pod / "capture"
            d.mkdir(parents=True, exist_ok=True)
            path = d / CAPTURE_FILE
            self.files[pod] = path
            argv = wrap(ns, self.cpus, tcpdump_argv(path))
            self._owned[pod] = self.procs.start(pod, "capture", argv, d / "tcpdump.log")
        deadline = time.monotonic() + READY_S
        for pod, owned in self._owned.items():
            while "listening on" not in owned.tail(5):
                if not owned.alive() or time.monotonic() > deadline:
                    raise PlatformError(
                        f"tcpdump in pod {pod} did not start capturing: {owned.tail(3)}",
                        fix="check that tcpdump runs as root here (scripts/system-packages.sh)",
                    )
                time.sleep(0.02)

    def stats(self) -> dict[str, CaptureStats]:
        """Packets captured and dropped per pod, from each stopped tcpdump's last words."""
        out = {}
        for pod, owned in self._owned.items():
            text = owned.tail(10)
            cap, drop = _CAPTURED.search(text), _DROPPED.search(text)
            out[pod] = CaptureStats(
                int(cap.group(1)) if cap else None, int(drop.group(1)) if drop else None
            )
        return out
