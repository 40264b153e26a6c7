"""Fixtures: synthetic runs with known answers under tmp_path."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from meshbench.testing.synthetic import lognormal_sampler, write_synthetic_run

from .analysis_synth import RunFactory, scenario_dict


@pytest.fixture
def make_run(tmp_path: Path) -> RunFactory:
    """``make_run(name, meshes=..., shift_us=..., ...) -> run dir`` under tmp_path."""

    def make(
        name: str = "run",
        *,
        meshes: list[str] | None = None,
        rates: list[float] | None = None,
        repeats: int = 4,
        shift_us: Mapping[str, float] | None = None,
        samples: int = 2000,
        intervals: int = 4,
        warmup_intervals: int = 1,
        seed: int = 1,
        slo: Mapping[str, float] | None = None,
        invalid: Mapping[str, str] | None = None,
        sampler: Any = None,
        depth: int = 3,
        status: str = "complete",
        platform: str = "local",
        resources: Any = None,
        aa_control: bool = False,
        deployments: int = 1,
    ) -> Path:
        meshes = meshes or ["none", "envoy"]
        rates = rates or [100.0]
        shifts = dict(shift_us or {})
        for m in meshes:
            shifts.setdefault(m, 0.0)
        run_dir = tmp_path / name
        run_dir.mkdir()
        scenario = scenario_dict(meshes, rates, repeats, slo, depth, platform)
        scenario["aa_control"] = aa_control
        scenario["deployments"] = deployments
        if aa_control:
            shifts.setdefault("none-aa", 0.0)
        write_synthetic_run(
            run_dir,
            scenario,
            sampler or lognormal_sampler(shifts, warmup_intervals=warmup_intervals),
            measured_intervals=intervals,
            warmup_intervals=warmup_intervals,
            samples_per_interval=lambda _t: samples,
            invalid=invalid,
            seed=seed,
            status=status,
            platform_name=platform,
            resources=resources,
        )
        return run_dir

    return make
