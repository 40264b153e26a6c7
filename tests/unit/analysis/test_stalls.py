"""The stall pointer: a trial whose tail rests on one second is named with that second and
what the host and the pods did in it; a clean run gets no pointer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from meshbench.analysis import analyse, load_run
from meshbench.analysis.stalls import STALL_FACTOR, find_stalls
from meshbench.report.tables import stall_table
from meshbench.testing.synthetic import TrialKey, lognormal_sampler, write_synthetic_run

from .analysis_synth import scenario_dict

STALLED = "t003-envoy-100rps-r2"
STALLED_SECOND = 3  # of the measured phase
WARMUP = 1
START = 1_700_000_000.0


def _run(tmp_path: Path, stall: bool) -> Path:
    base = lognormal_sampler({"none": 0.0, "envoy": 300.0}, warmup_intervals=WARMUP)
    calls: dict[str, int] = {}

    def sampler(t: TrialKey, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
        i = calls.get(t.trial_id, 0)
        calls[t.trial_id] = i + 1
        values = base(t, n, rng)
        if stall and t.trial_id == STALLED and i == WARMUP + STALLED_SECOND:
            values[: n // 20] += 100_000.0  # 5 % of this second's requests wait 100 ms
        return values

    run_dir = tmp_path / ("stalled" if stall else "clean")
    run_dir.mkdir()
    scenario = scenario_dict(["none", "envoy"], [100.0], 4, None, 3, "local")
    write_synthetic_run(
        run_dir,
        scenario,
        sampler,
        measured_intervals=8,
        warmup_intervals=WARMUP,
        samples_per_interval=lambda _t: 500,
        start_epoch_s=START,
    )
    return run_dir


def _timeline(run_dir: Path, trial_id: str, steal_at: int) -> None:
    """A timeline like the local platform's: one sample per second of the measured phase,
    CPU 1 stolen by the hypervisor for 40 % of second ``steal_at``, the backend's sidecar
    busier and opening 3 TLS handshakes then."""
    meta = json.loads((run_dir / "run.json").read_text())
    order = [t["trial_id"] for t in meta["plan"]].index(trial_id)
    begin = START + order * (WARMUP + 8 + 5) + WARMUP  # the synthetic run's clock
    cpus = {"0": [0] * 8, "1": [0] * 8}
    cpu_s = {"backend/app": 0.0, "backend/sidecar": 0.0}
    handshakes = 0
    samples = []
    for k in range(9):
        samples.append(
            {
                "t": begin + k,
                "cpu_s": dict(cpu_s),
                "cpus": {c: list(v) for c, v in cpus.items()},
                "sidecars": {"backend": {"listener.0.0.0.0_15006.ssl.handshake": handshakes}},
            }
        )
        steal = 40 if k == steal_at else 0
        cpus["0"] = [a + b for a, b in zip(cpus["0"], [30, 0, 0, 70, 0, 0, 0, 0], strict=True)]
        cpus["1"] = [
            a + b for a, b in zip(cpus["1"], [20, 0, 10, 70 - steal, 0, 0, 0, steal], strict=True)
        ]
        cpu_s["backend/app"] += 0.02
        cpu_s["backend/sidecar"] += 0.04 if k != steal_at else 0.15
        handshakes += 3 if k == steal_at else 0
    path = run_dir / "trials" / trial_id / "timeline.json"
    path.write_text(json.dumps({"interval_s": 1.0, "samples": samples}))


def test_one_stalled_second_is_pointed_out_with_what_happened_then(tmp_path: Path) -> None:
    run_dir = _run(tmp_path, stall=True)
    _timeline(run_dir, STALLED, STALLED_SECOND)
    an = analyse(load_run(run_dir))
    [stall] = an.stalls
    assert (stall.trial_id, stall.second) == (STALLED, STALLED_SECOND)
    assert stall.p99_ms > 100 and stall.factor >= STALL_FACTOR
    text = stall.sentence()
    assert "cpu1 busy 70 % (typically 30 %), steal 40.0 %" in text, text
    assert "backend/sidecar 0.15 (typically 0.04)" in text, text
    assert "backend TLS handshakes: 3 (typically 0)" in text, text
    assert any(STALLED in w and "stalled second" in w for w in an.warnings)
    table = stall_table(an)
    assert table is not None and table.rows[0][0] == STALLED


def test_a_clean_run_gets_no_pointer(tmp_path: Path) -> None:
    an = analyse(load_run(_run(tmp_path, stall=False)))
    assert an.stalls == [] and stall_table(an) is None
    assert not any("stalled second" in w for w in an.warnings)


def test_a_stall_without_a_timeline_is_still_named(tmp_path: Path) -> None:
    [stall] = find_stalls(load_run(_run(tmp_path, stall=True)))
    assert stall.trial_id == STALLED and stall.context == {}
    assert stall.sentence().endswith("no timeline recorded")
