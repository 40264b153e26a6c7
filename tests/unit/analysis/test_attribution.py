"""Where the overhead goes, on stored runs with known answers: each request's parts are
built from chosen times at every pod's boundaries, so the analysis must find each
sidecar's cost in its own part and nowhere else, the parts must add up to the wire's
round trip, and the reconciliation and the observer effect must say what was put in."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from meshbench.analysis import analyse, load_run
from meshbench.analysis.attribution import attribute_run, depth_scaling, request_parts
from meshbench.analysis.plots import where_overhead_goes
from meshbench.report.tables import attribution_tables
from meshbench.report.verdict import verdict_lines
from meshbench.testing.synthetic import lognormal_sampler, write_synthetic_run

from .analysis_synth import scenario_dict

CHAIN = ["load", "frontend", "middle", "backend"]
WIRE_MS = 0.05  # each hop between pods, each way
APP_MS = {"frontend": 0.2, "middle": 0.15, "backend": 0.3}  # each app's own time in all
INBOUND_MS = 0.25  # envoy's inbound pass, each way, per pod (none: 0)
OUTBOUND_MS = 0.1  # envoy's outbound pass, each way, per calling pod
N = 300


def _times(mesh: str, rng: np.random.Generator) -> list[tuple[str, str, int, int | None]]:
    """One request's (pod, point, request ns, response ns) rows, walking the chain."""
    sidecar = mesh != "none"

    def jitter(ms: float) -> int:
        """``ms`` in ns, give or take 5 %."""
        return int(ms * 1e6 * (1 + rng.normal(0, 0.05)))

    rows: list[tuple[str, str, int, int | None]] = []
    t = 1_700_000_000_000_000_000
    send = t
    # per service: (in_wire, in_app, out_app, out_wire) request times
    arrivals: list[tuple[str, int, int, int | None, int | None]] = []
    for i, pod in enumerate(CHAIN[1:]):
        t += jitter(WIRE_MS)
        iw = t
        t += jitter(INBOUND_MS) if sidecar else 0
        ia = t
        leaf = i == 2
        if leaf:
            t += jitter(APP_MS[pod])
            arrivals.append((pod, iw, ia, None, None))
            break
        t += jitter(APP_MS[pod] / 2)
        oa = t
        t += jitter(OUTBOUND_MS) if sidecar else 0
        ow = t
        arrivals.append((pod, iw, ia, oa, ow))
    # and back up the chain
    back: dict[str, tuple[int | None, int | None, int, int]] = {}
    for pod, _iw, _ia, out_app, _ow in reversed(arrivals):
        bw: int | None = None
        ba: int | None = None
        if out_app is not None:
            bw = t
            t += jitter(OUTBOUND_MS) if sidecar else 0
            ba = t
            t += jitter(APP_MS[pod] / 2)
        ra = t
        t += jitter(INBOUND_MS) if sidecar else 0
        rw = t
        t += jitter(WIRE_MS)
        back[pod] = (bw, ba, ra, rw)
    rows.append(("load", "out_wire", send, t))
    for pod, in_w, in_a, out_a, out_w in arrivals:
        bw, ba, ra, rw = back[pod]
        assert (out_a is None) == (bw is None)
        rows.append((pod, "in_wire", in_w, rw))
        if sidecar:
            rows.append((pod, "in_app", in_a, ra))
        if out_a is not None and out_w is not None:
            rows.append((pod, "out_wire", out_w, bw))
            if sidecar:
                rows.append((pod, "out_app", out_a, ba))
    return rows


def _write_hops(run_dir: Path, trial_id: str, mesh: str, order: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    text = io.StringIO()
    text.write("request_id,pod,point,request_ns,response_ns\n")
    for i in range(N):
        for pod, point, req, resp in _times(mesh, rng):
            text.write(f"t{order}m0-{i},{pod},{point},{req},{resp}\n")
    d = run_dir / "trials" / trial_id
    (d / "hops.csv.gz").write_bytes(gzip.compress(text.getvalue().encode()))
    meta = {"chain": CHAIN, "sidecars": {p: mesh != "none" and p != "load" for p in CHAIN}}
    (d / "attribution.json").write_text(json.dumps(meta))


def _run(
    tmp_path: Path,
    observer: bool = True,
    capture_cost_us: float = 0.0,
    rates_rps: tuple[float, ...] = (200.0,),
) -> Path:
    scenario = scenario_dict(["none", "envoy"], list(rates_rps), 4)
    scenario["attribution"] = {"enabled": True, "observer": observer, "keep_captures": "none"}
    base = lognormal_sampler({"none": 0.0, "envoy": 1500.0}, repeat_jitter=[1.0])

    def sampler(t, n, rng):  # type: ignore[no-untyped-def]
        extra = capture_cost_us if (t.capture == "on" and t.mesh == "envoy") else 0.0
        return base(t, n, rng) + extra

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    trials = write_synthetic_run(run_dir, scenario, sampler, samples_per_interval=lambda _t: 200)
    for t in trials:
        if t.capture == "on":
            _write_hops(run_dir, t.trial_id, t.mesh, t.order, seed=t.order)
    return run_dir


def test_each_sidecar_pass_is_found_in_its_own_part(tmp_path: Path) -> None:
    a = attribute_run(load_run(_run(tmp_path)))
    parts = a.parts.set_index("part")
    for pod in ("frontend", "middle", "backend"):
        # two passes (in and out) of 0.25 ms each, in that pod's inbound part only
        assert parts.loc[f"{pod} inbound", "overhead_ms"] == pytest.approx(2 * INBOUND_MS, abs=0.01)
        assert parts.loc[f"{pod} app", "overhead_ms"] == pytest.approx(0.0, abs=0.01)
    for pod in ("frontend", "middle"):
        assert parts.loc[f"{pod} outbound", "overhead_ms"] == pytest.approx(
            2 * OUTBOUND_MS, abs=0.01
        )
    assert parts.loc["wire middle to backend", "overhead_ms"] == pytest.approx(0.0, abs=0.01)
    # the apps' own time is where it was put, in both arms
    assert parts.loc["backend app", "none_ms"] == pytest.approx(APP_MS["backend"], rel=0.02)
    groups = a.groups.set_index("kind")
    assert groups.loc["inbound", "overhead_ms"] == pytest.approx(3 * 2 * INBOUND_MS, abs=0.02)
    assert groups.loc["inbound", "share_pct"] == pytest.approx(100 * 1.5 / (1.5 + 0.4), abs=1.5)
    assert groups["ci_low_ms"].le(groups["overhead_ms"]).all()


def test_the_parts_add_up_to_the_wire_round_trip_request_by_request(tmp_path: Path) -> None:
    run_dir = _run(tmp_path)
    run = load_run(run_dir)
    trial = run.trials[(run.trials["capture"] == "on") & (run.trials["mesh"] == "envoy")].iloc[0]
    hops = pd.read_csv(run_dir / "trials" / trial["trial_id"] / "hops.csv.gz")
    parts = request_parts(hops, CHAIN)
    assert len(parts) == N
    summed = parts.drop(columns=["request_id", "total"]).sum(axis=1)
    assert np.allclose(summed, parts["total"], atol=1e-6)


def test_a_request_missing_a_point_is_left_out_not_half_counted(tmp_path: Path) -> None:
    run_dir = _run(tmp_path)
    run = load_run(run_dir)
    trial = run.trials[(run.trials["capture"] == "on") & (run.trials["mesh"] == "envoy")].iloc[0]
    hops = pd.read_csv(run_dir / "trials" / trial["trial_id"] / "hops.csv.gz")
    first = hops["request_id"].iloc[0]
    gone = hops[~((hops["request_id"] == first) & (hops["point"] == "out_app"))]
    assert len(request_parts(gone, CHAIN)) == N - 1


def test_reconciliation_and_observer_effect_say_what_was_put_in(tmp_path: Path) -> None:
    """The generator's samples carry a 1.5 ms overhead (and 0.3 ms more when captured);
    the parts carry 1.9 ms: the residual is their difference, the observer effect the
    0.3 ms."""
    a = attribute_run(load_run(_run(tmp_path, capture_cost_us=300.0)))
    numbers = ["generator_ms", "parts_ms", "residual_ms"]
    recon = a.reconciliation.set_index("statistic").loc["mean", numbers].astype(float)
    assert recon["parts_ms"] == pytest.approx(1.9, abs=0.03)
    assert recon["residual_ms"] == pytest.approx(
        recon["generator_ms"] - recon["parts_ms"], abs=1e-9
    )
    obs = a.observer[a.observer["statistic"] == "mean"]
    diff, low, high = obs[["difference_ms", "ci_low_ms", "ci_high_ms"]].to_numpy(float)[0]
    assert diff == pytest.approx(0.3, abs=0.1)
    assert low < 0.3 < high


def test_the_report_says_where_the_overhead_goes(tmp_path: Path) -> None:
    an = analyse(load_run(_run(tmp_path)))
    titles = [t.title for t in attribution_tables(an) if t is not None]
    assert titles[0].startswith("Where the overhead goes")
    assert any("observer effect" in t for t in titles)
    sentence = [line for line in verdict_lines(an) if line.startswith("Where the overhead goes")]
    assert sentence and "inbound sidecars" in sentence[0], sentence
    assert any("attribution mode was on" in n for n in an.notes)
    fig = where_overhead_goes(an)
    assert fig is not None
    drawn = [ax for ax in fig.axes if ax.get_label() != "spare"]
    assert len(drawn) == 1 and {"none", "envoy"} <= {
        t.get_text() for t in drawn[0].get_yticklabels()
    }


def test_each_cell_gets_its_own_sentence_and_panel(tmp_path: Path) -> None:
    """Two rates: one sentence and one waterfall per mesh and cell, each naming its cell,
    with that cell's own total (not the sum over cells)."""
    an = analyse(load_run(_run(tmp_path, rates_rps=(100.0, 200.0))))
    sentences = [s for s in verdict_lines(an) if s.startswith("Where the overhead goes")]
    assert len(sentences) == 2, sentences
    for rate, sentence in zip(("100 rps", "200 rps"), sentences, strict=True):
        assert f"envoy, {rate}:" in sentence and "capture on" not in sentence, sentence
        total = float(sentence.split(" of the ")[1].split(" ms")[0])
        expected = 3 * 2 * INBOUND_MS + 2 * 2 * OUTBOUND_MS  # every pass, both ways
        assert total == pytest.approx(expected, rel=0.1), sentence
    fig = where_overhead_goes(an)
    assert fig is not None
    titles = [ax.get_title() for ax in fig.axes if ax.get_label() != "spare"]
    assert titles == ["100 rps", "200 rps"], titles


def test_a_run_without_captures_has_no_attribution(tmp_path: Path) -> None:
    run_dir = tmp_path / "plain"
    run_dir.mkdir()
    write_synthetic_run(
        run_dir,
        scenario_dict(["none", "envoy"], [200.0], 2),
        lognormal_sampler({"none": 0.0, "envoy": 500.0}),
    )
    an = analyse(load_run(run_dir))
    assert an.attribution is None and attribution_tables(an) == []
    assert where_overhead_goes(an) is None


@pytest.mark.parametrize(("quadratic_us", "linear"), [(0.0, True), (150.0, False)])
def test_depth_scaling_finds_the_cost_per_hop_and_whether_it_compounds(
    tmp_path: Path, quadratic_us: float, linear: bool
) -> None:
    """envoy adds 400 µs a hop (plus ``quadratic_us`` x depth² when it compounds)."""
    scenario = scenario_dict(["none", "envoy"], [200.0], 6)
    scenario["sweep"] = {"depth": [1, 2, 3, 4]}
    base = lognormal_sampler({"none": 0.0, "envoy": 0.0}, sigma=0.05, repeat_jitter=[1.0])

    def sampler(t, n, rng):  # type: ignore[no-untyped-def]
        d = float(t.depth)
        extra = (400.0 * d + quadratic_us * d * d) if t.mesh == "envoy" else 0.0
        return base(t, n, rng) + extra

    run_dir = tmp_path / "depth"
    run_dir.mkdir()
    write_synthetic_run(run_dir, scenario, sampler, samples_per_interval=lambda _t: 400)
    d = depth_scaling(load_run(run_dir)).set_index("statistic").loc["mean"]
    assert d["slope_ms_per_hop"] == pytest.approx(0.4 + quadratic_us * 5 / 1000, abs=0.03)
    assert d["slope_ci_low_ms"] <= d["slope_ms_per_hop"] <= d["slope_ci_high_ms"]
    holds_zero = d["curvature_ci_low_ms"] <= 0 <= d["curvature_ci_high_ms"]
    assert bool(holds_zero) is linear, d
