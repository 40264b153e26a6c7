"""`meshbench size`: the variance components a run shows, and designs that follow from them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from meshbench.analysis import load_run
from meshbench.analysis.sizing import SizingError, mde, parse_detect, size_run
from meshbench.analysis.variance import one_way
from meshbench.cli import main
from meshbench.testing.synthetic import lognormal_sampler

from .analysis_synth import RunFactory

CALIBRATION = Path(__file__).resolve().parents[2] / "data" / "calibration-run"


@pytest.mark.parametrize(
    ("text", "expected"), [("0.5ms@p99", (0.5, 99.0)), (" 0.2 ms @ p99.9", (0.2, 99.9))]
)
def test_parse_detect(text: str, expected: tuple[float, float]) -> None:
    assert parse_detect(text) == expected


@pytest.mark.parametrize("bad", ["0.5@p99", "0.5ms", "0ms@p50", "1ms@p100", "1ms@50", "p99"])
def test_parse_detect_refuses(bad: str) -> None:
    with pytest.raises(SizingError, match="cannot read the effect"):
        parse_detect(bad)


def test_one_way_components_of_a_known_layout() -> None:
    rng = np.random.default_rng(3)
    groups = [g for g in range(40) for _ in range(3)]
    dep = rng.normal(0, 2.0, 40)
    values = [dep[g] + rng.normal(0, 1.0) for g in groups]
    within, between = one_way(values, groups)
    assert within == pytest.approx(1.0, rel=0.3)
    assert between == pytest.approx(4.0, rel=0.5)
    assert np.isnan(one_way([1.0, 2.0], ["a", "b"])[0])  # no group with two values


def test_a_run_sized_for_its_own_mde_needs_its_own_repeats() -> None:
    """Consistency on the real calibration run: asked for the effect that the model says
    its own design (12 repeats of 8 s) detects, size answers 12 repeats of 8 s; half that
    effect needs more repeats, twice it fewer."""
    run = load_run(CALIBRATION)
    first = size_run(run, 1.0, 50.0)
    own = max(mde(c.block_var(1.0), 12, 0.95, 0.8) for c in first.components)
    at_8s = {d.duration_s: d.repeats for d in size_run(run, own * 1.0001, 50.0).options}
    assert at_8s[8.0] == 12
    assert {d.duration_s: d.repeats for d in size_run(run, own / 2, 50.0).options}[8.0] > 12
    assert {d.duration_s: d.repeats for d in size_run(run, own * 2, 50.0).options}[8.0] < 12
    gate = {d.duration_s: d.repeats for d in size_run(run, own, 50.0, gate=True).options}
    assert gate[8.0] > 12  # two runs' noise adds


def test_sampling_noise_shrinks_with_longer_trials(make_run: RunFactory) -> None:
    """With no trial-to-trial jitter, a repeat's contrast varies only by sampling: the
    trial component is ~0, and longer trials need fewer repeats."""
    sampler = lognormal_sampler({"none": 0.0, "envoy": 300.0}, sigma=0.6, trial_jitter=0.0)
    run = load_run(make_run(sampler=sampler, repeats=8, samples=150, intervals=4))
    s = size_run(run, 0.1, 50.0)
    (c,) = s.components
    assert c.sampling > 4 * c.trial
    reps = {d.duration_s: d.repeats for d in s.options}
    durations = sorted(reps)
    assert [reps[d] for d in durations] == sorted((reps[d] for d in durations), reverse=True)
    assert reps[durations[0]] > reps[durations[-1]]
    assert all(d.mde_ms <= 0.1 for d in s.options)
    assert "not measured" in c.deployment_note


def test_size_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["size", str(CALIBRATION), "--detect", "0.5ms@p50", "--gate"]) == 0
    out = capsys.readouterr().out
    assert "smallest run that detects it:" in out and "scenario settings: repeats:" in out
    assert "envoy at 150 rps: sampling" in out
    assert main(["size", str(CALIBRATION), "--detect", "half a ms"]) == 2
    assert "cannot read the effect" in capsys.readouterr().err
