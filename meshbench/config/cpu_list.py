"""CPU lists in taskset / cpuset syntax (``"0,2-3"``): the scenario's ``local.*_cpus``,
a run's pinning, the kernel's lists under ``/sys`` and ``--cpus`` options."""

from __future__ import annotations

import re

_PART = re.compile(r"([0-9]+)(?:-([0-9]+))?")


def parse_cpu_list(spec: str, field: str = "CPU list") -> list[int]:
    """``"0,2-3"`` -> ``[0, 2, 3]``: comma-separated parts, each ``N`` or ``LOW-HIGH``
    with LOW <= HIGH (blanks around a part allowed), so at least one CPU.

    Raises ValueError naming ``field`` and the value otherwise.
    """
    cpus: set[int] = set()
    for part in spec.split(","):
        m = _PART.fullmatch(part.strip())
        lo, hi = (int(m[1]), int(m[2] or m[1])) if m else (1, 0)
        if hi < lo:
            raise ValueError(f"{field} {spec!r}: each part must be N or LOW-HIGH (e.g. 0 or 0-1)")
        cpus.update(range(lo, hi + 1))
    return sorted(cpus)
