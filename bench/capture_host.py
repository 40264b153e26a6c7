"""Copy the /proc and /sys files :mod:`meshbench.host.preflight` reads into a fixture folder.

    python bench/capture_host.py tests/data/hosts/<name> [--gap 1.0]

Writes ``sys/devices/system/cpu/...`` (online, isolated, smt/active, per CPU topology
and cpufreq governor) and ``proc/stat`` plus ``proc/stat.after`` taken ``--gap`` seconds
later (the two texts the busy share is computed from), keeping the host's own layout.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

SYSFS = Path("/sys/devices/system/cpu")
FILES = ("online", "isolated", "smt/active")
PER_CPU = (
    "topology/core_id",
    "topology/physical_package_id",
    "topology/thread_siblings_list",
    "cpufreq/scaling_governor",
)


def _copy(src: Path, out: Path) -> None:
    try:
        text = src.read_text()
    except OSError:
        return
    dest = out / str(src).lstrip("/")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(text)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out", type=Path)
    p.add_argument("--gap", type=float, default=1.0)
    a = p.parse_args()
    for name in FILES:
        _copy(SYSFS / name, a.out)
    for cpu_dir in sorted(SYSFS.glob("cpu[0-9]*")):
        for name in PER_CPU:
            _copy(cpu_dir / name, a.out)
    stat = a.out / "proc" / "stat"
    stat.parent.mkdir(parents=True, exist_ok=True)
    stat.write_text(Path("/proc/stat").read_text())
    time.sleep(a.gap)
    stat.with_name("stat.after").write_text(Path("/proc/stat").read_text())
    print(f"captured {sum(1 for f in a.out.rglob('*') if f.is_file())} files into {a.out}")


if __name__ == "__main__":
    main()
