"""The host fingerprint of a stored run: what decides what a microsecond of work costs.

A latency measured on one CPU model, core count or kernel is not comparable with one
measured on another, so ``gate`` and the baseline store refuse to compare runs whose
fingerprints differ unless forced (pyperf refuses benchmarks with different
``cpu_model_name``, ``cpu_count`` or ``platform`` metadata the same way). The hostname is
left out on purpose: CI runners get a new one for every job.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

FINGERPRINT_FIELDS = ("cpu_model", "cpu_count", "kernel")
"""Fields of run.json's ``host`` block that make up the fingerprint."""


def host_fields(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The fingerprinted fields of a run.json mapping (None where not recorded)."""
    host = meta.get("host") or {}
    return {f: host.get(f) for f in FINGERPRINT_FIELDS}


def host_fingerprint(meta: Mapping[str, Any]) -> str:
    """12 hex digits that name the host of a run.json mapping (its :data:`FINGERPRINT_FIELDS`)."""
    text = json.dumps(host_fields(meta), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def host_differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """One ``"host <field>: <a> vs <b>"`` line per fingerprinted field that differs."""
    fa, fb = host_fields(a), host_fields(b)
    return [f"host {k}: {fa[k]!r} vs {fb[k]!r}" for k in FINGERPRINT_FIELDS if fa[k] != fb[k]]


def describe(meta: Mapping[str, Any]) -> str:
    """The fingerprint with its fields, for messages: ``1a2b3c4d5e6f (AMD EPYC, 2 CPUs,
    kernel 6.1.0)``."""
    f = host_fields(meta)
    return (
        f"{host_fingerprint(meta)} ({f['cpu_model'] or 'cpu model not recorded'}, "
        f"{f['cpu_count'] or '?'} CPUs, kernel {f['kernel'] or 'not recorded'})"
    )
