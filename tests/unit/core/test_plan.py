from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from meshbench.config.scenario import parse_scenario
from meshbench.errors import MeshbenchError
from meshbench.planning.plan import plan_trials


def scenario(seed: int = 3, repeats: int = 3, rates: list[float] | None = None):  # type: ignore[no-untyped-def]
    return parse_scenario(
        {
            "name": "t",
            "meshes": ["none", "envoy", "envoy-mtls"],
            "repeats": repeats,
            "seed": seed,
            "load": {"rates_rps": rates or [100], "duration_s": 1},
        }
    )


def test_every_cell_once_per_repeat_with_unique_ids() -> None:
    trials = plan_trials(scenario(rates=[100, 200]))
    assert len(trials) == 3 * 3 * 2
    assert len({t.trial_id for t in trials}) == len(trials)
    assert [t.order for t in trials] == list(range(1, len(trials) + 1))
    cells = Counter((t.mesh, t.rate_rps) for t in trials)
    assert set(cells.values()) == {3}


def test_same_seed_same_order_and_other_seed_differs() -> None:
    a = [t.trial_id for t in plan_trials(scenario(seed=1))]
    assert a == [t.trial_id for t in plan_trials(scenario(seed=1))]
    orders = {tuple(t.mesh for t in plan_trials(scenario(seed=s))) for s in range(10)}
    assert len(orders) > 1


def test_balanced_positions() -> None:
    """Over len(meshes) repeats every mesh takes every position within a repeat once."""
    trials = plan_trials(scenario(repeats=3))
    positions = Counter((t.mesh, (t.order - 1) % 3) for t in trials)
    assert set(positions.values()) == {1}
    assert len(positions) == 9


def test_fresh_deployments_split_the_repeats_into_consecutive_groups() -> None:
    from meshbench.planning.plan import deployment_of

    assert [deployment_of(r, 6, 3) for r in range(1, 7)] == [1, 1, 2, 2, 3, 3]
    assert [deployment_of(r, 5, 2) for r in range(1, 6)] == [1, 1, 1, 2, 2]
    assert {deployment_of(r, 4, 1) for r in range(1, 5)} == {1}
    s = parse_scenario(
        {
            "name": "t",
            "meshes": ["none", "envoy"],
            "repeats": 4,
            "deployments": 2,
            "load": {"rates_rps": [100], "duration_s": 1},
        }
    )
    trials = plan_trials(s)
    keys = {t.deployment_key for t in trials}
    assert len(keys) == 4  # two arms x two fresh deployments
    assert {(t.repeat, t.deployment) for t in trials} == {(1, 1), (2, 1), (3, 2), (4, 2)}


def test_the_estimate_counts_trials_requests_and_time() -> None:
    from meshbench.planning.plan import DEPLOY_S, HLOG_BYTES_PER_S, TRIAL_OVERHEAD_S, estimate

    s = parse_scenario(
        {
            "name": "t",
            "meshes": ["none", "envoy"],
            "repeats": 3,
            "load": {"rates_rps": [100, 200], "duration_s": 10, "warmup_s": 2},
        }
    )
    e = estimate(s, plan_trials(s))
    assert e.trials == 12
    assert e.requests == 3 * 2 * (100 + 200) * 12
    assert e.duration_s == pytest.approx(12 * (12 + TRIAL_OVERHEAD_S) + 2 * DEPLOY_S)
    assert e.disk_bytes == 12 * 12 * HLOG_BYTES_PER_S
    assert str(e).startswith("12 trials, about 21,600 requests, about 3 min, 158 kB of histograms")
    assert e.excesses() == []


def test_plans_beyond_the_limits_need_confirming() -> None:
    from meshbench.planning.plan import confirm_limits, estimate, load_estimate

    s = parse_scenario(
        {
            "name": "huge",
            "meshes": ["none", "envoy"],
            "repeats": 1000,
            "load": {"rates_rps": [100], "duration_s": 3600},
        }
    )
    e = estimate(s, plan_trials(s))
    assert len(e.excesses()) == 2  # about 83 days and 721 M requests
    with pytest.raises(MeshbenchError, match=r"scenario 'huge' would take about 8\d days"):
        confirm_limits(e, confirmed=False, what="scenario 'huge'")
    confirm_limits(e, confirmed=True, what="scenario 'huge'")  # --yes
    # one load at 1 M rps for 300 s: 302 M requests, refused on the count alone
    big = load_estimate(1e6, 2.0, 300.0, workers=1)
    assert big.excesses() == ["about 302,000,000 requests (limit 100,000,000)"]
    assert load_estimate(150, 2.0, 10.0, workers=2).excesses() == []


def test_a_kind_plans_limit_counts_the_baseline_run_again_in_every_window(
    tmp_path: Path,
) -> None:
    """20 one-hour trials fit the 24 h limit; on kind the baseline's 5 run again beside
    each of 3 meshes (30 trials, ~30 h), and that is what must be confirmed."""
    from meshbench.runner.run import run_scenario

    sc = {
        "name": "windows",
        "platform": "kind",
        "repeats": 5,
        "meshes": ["none", "istio", "linkerd", "kuma"],
        "load": {"rates_rps": [1], "duration_s": 3600, "warmup_s": 0},
    }
    path = tmp_path / "sc.yaml"
    path.write_text(yaml.safe_dump(sc))
    with pytest.raises(MeshbenchError, match=r"would take about 30\.\d h"):
        run_scenario(path, tmp_path / "results")
