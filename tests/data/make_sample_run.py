"""Write the SYNTHETIC sample run under tests/data/ (and, with --golden, the golden run).

    .venv/bin/python tests/data/make_sample_run.py            # tests/data/sample-run
    .venv/bin/python tests/data/make_sample_run.py --golden   # tests/data/golden/schema-v1

The sample run stands in for a real smoke run (same format) until one is committed:
the notebook and report tests run against it. The golden run is frozen: never
regenerate it after a schema change; migrate the reader instead (that is what the
golden test is for).

Latency model (µs): a lognormal around a 1.2 ms median (a three-hop chain), scaled by
a per-trial jitter of ~2 %, plus a constant per-mesh shift (envoy +0.8 ms,
envoy-mtls +1.0 ms) and rare 5 ms stalls; 10 % slower at 200 rps.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from meshbench.config.scenario import parse_scenario
from meshbench.errors import ScenarioError
from meshbench.testing.synthetic import TrialKey, plan, write_synthetic_run

HERE = Path(__file__).resolve().parent
SAMPLE = HERE / "sample-run"
GOLDEN = HERE / "golden" / "schema-v1"

SHIFT_US = {"none": 0.0, "envoy": 800.0, "envoy-mtls": 1000.0}


def scenario(
    name: str,
    meshes: list[str],
    rates: list[float],
    repeats: int,
    duration_s: float,
    warmup_s: float,
    slo: dict[str, float] | None,
) -> dict[str, Any]:
    """A validated scenario dumped as run.json stores it (plus the ``slo`` block)."""
    data: dict[str, Any] = {
        "name": name,
        "platform": "local",
        "meshes": meshes,
        "repeats": repeats,
        "load": {"rates_rps": rates, "duration_s": duration_s, "warmup_s": warmup_s},
    }
    try:
        sc = parse_scenario({**data, "slo": slo}, "make_sample_run.py").model_dump(mode="json")
    except ScenarioError:  # a Scenario model without an `slo` field yet: carry it as-is
        sc = parse_scenario(data, "make_sample_run.py").model_dump(mode="json")
        sc["slo"] = slo
    return sc


def make_sampler() -> Any:
    jitter: dict[str, float] = {}

    def sample(t: TrialKey, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
        if t.trial_id not in jitter:
            jitter[t.trial_id] = 1.0 + rng.normal(0.0, 0.02)
        load = 1.0 if t.rate_rps <= 100 else 1.1
        base = rng.lognormal(np.log(1200.0), 0.35, n) * jitter[t.trial_id] * load
        stalls = rng.random(n) < 0.002
        return np.asarray(base + SHIFT_US[t.mesh] + stalls * 5000.0, dtype=np.float64)

    return sample


def resources(t: TrialKey) -> dict[str, float]:
    krps = t.rate_rps / 1000
    sidecars = 0 if t.mesh == "none" else 3
    return {
        "generator_cpu": 0.05 + 0.3 * krps,
        "service_cpu": 0.1 + 0.8 * krps,
        "sidecar_cpu": sidecars * (0.004 + 0.25 * krps) * (1.2 if t.mesh == "envoy-mtls" else 1),
        "service_rss_mib": 3 * 38.0,
        "sidecar_rss_mib": sidecars * (24.0 if t.mesh == "envoy" else 27.5),
    }


def _trial_id(sc: dict[str, Any], mesh: str, rate_rps: float, repeat: int) -> str:
    for t in plan(sc):
        if (t.mesh, t.rate_rps, t.repeat) == (mesh, rate_rps, repeat):
            return t.trial_id
    raise KeyError((mesh, rate_rps, repeat))


def write(out: Path, golden: bool) -> None:
    if golden:
        sc = scenario(
            "golden", ["none", "envoy"], [50.0], 2, 3, 1, {"percentile": 99, "budget_ms": 4}
        )
        write_synthetic_run(
            out,
            sc,
            make_sampler(),
            measured_intervals=3,
            warmup_intervals=1,
            resources=resources,
            seed=7,
        )
        return
    sc = scenario(
        "sample",
        ["none", "envoy", "envoy-mtls"],
        [100.0, 200.0],
        3,
        8,
        2,
        {"percentile": 99, "budget_ms": 3.5},
    )
    write_synthetic_run(
        out,
        sc,
        make_sampler(),
        measured_intervals=8,
        warmup_intervals=2,
        resources=resources,
        invalid={
            _trial_id(
                sc, "envoy-mtls", 200.0, 3
            ): "send lag p99 7.2 ms > 5 ms (generator fell behind)"
        },
        seed=1,
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--golden", action="store_true", help="write the (frozen) golden run instead")
    p.add_argument("--out", type=Path, help="directory to write (default: the one in tests/data)")
    p.add_argument("--force", action="store_true", help="replace an existing directory")
    args = p.parse_args(argv)
    out = args.out or (GOLDEN if args.golden else SAMPLE)
    if out.exists():
        if not args.force:
            print(f"{out} exists; pass --force to replace it", file=sys.stderr)
            return 1
        shutil.rmtree(out)
    out.mkdir(parents=True)
    write(out, args.golden)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
