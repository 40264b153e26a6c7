"""Synthetic runs with known answers, written in the stored format (test helpers)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from meshbench.config.scenario import parse_scenario
from meshbench.config.topology import chain

RunFactory = Callable[..., Path]


def scenario_dict(
    meshes: list[str],
    rates: list[float],
    repeats: int,
    slo: Mapping[str, float] | None = None,
    depth: int = 3,
    platform: str = "local",
) -> dict[str, Any]:
    """A validated scenario as run.json stores it, plus an optional ``slo`` block."""
    known = {"local": ("none", "envoy", "envoy-mtls"), "kind": ("none", "istio", "linkerd")}
    assert all(m in known[platform] for m in meshes)
    sc = parse_scenario(
        {
            "name": "synthetic",
            "platform": platform,
            "meshes": meshes,
            "repeats": repeats,
            "topology": chain(depth).model_dump(mode="json"),
            "load": {"rates_rps": rates, "duration_s": 5, "warmup_s": 1},
        }
    ).model_dump(mode="json")
    if slo is not None:
        sc["slo"] = dict(slo)
    return sc
