"""Known answers on a real run (tests/data/calibration-run): what a decision review
reads must match what every repeat shows."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from meshbench.analysis import analyse, load_run
from meshbench.analysis.verdicts import FASTER, SLOWER
from meshbench.testing.frames import row

CALIBRATION = Path(__file__).resolve().parents[2] / "data" / "calibration-run"


def trimmed(tmp_path: Path, keep: Callable[[str, int], bool]) -> Path:
    """A copy of the calibration run with only the trials.csv rows for which
    ``keep(mesh, repeat)`` is true."""
    out = tmp_path / "run"
    shutil.copytree(CALIBRATION, out)
    with (out / "trials.csv").open() as f:
        rows = list(csv.DictReader(f))
    fields = list(rows[0])
    kept = [r for r in rows if keep(r["mesh"], int(r["repeat"]))]
    with (out / "trials.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fields)
        w.writeheader()
        w.writerows(kept)
    return out


def by(overhead: pd.DataFrame, mesh: str, label: str) -> pd.Series:
    return row(overhead.set_index(["mesh", "label"]), (mesh, label))


def test_sidecars_are_slower_and_the_aa_arm_is_not_on_the_whole_run() -> None:
    a = analyse(load_run(CALIBRATION))
    for mesh in ("envoy", "envoy-mtls"):
        p50 = by(a.overhead, mesh, "p50")
        assert p50["verdict"] == SLOWER and p50["blocks_slower"] == 12
        assert 0.9 < p50["overhead_ms"] < 1.6 and p50["ci_low_ms"] > 0.5
        assert by(a.overhead, mesh, "p99")["verdict"] == SLOWER
    for label in ("p50", "p99"):
        assert by(a.overhead, "none-aa", label)["verdict"] not in (SLOWER, FASTER)
    assert not any("A/A control failed" in w for w in a.warnings)
    d = a.diagnostics.set_index("label")
    assert d.loc["p50", "complete_blocks"] == 12 and d["interleaved"].all()


def test_three_repeats_of_an_overhead_seen_in_every_repeat_are_called_slower(
    tmp_path: Path,
) -> None:
    """The new user's run the verdict issue describes: 3 repeats, the sidecar slower in
    each. The old unpaired bootstrap called such runs "within noise"."""
    a = analyse(load_run(trimmed(tmp_path, lambda _mesh, repeat: repeat <= 3)))
    p50 = by(a.overhead, "envoy", "p50")
    assert p50["n_blocks"] == 3 and p50["blocks_slower"] == 3
    assert p50["verdict"] == SLOWER


@pytest.mark.parametrize("repeats", [(1, 2, 3), (4, 5, 6, 7, 8, 9), (1, 2, 3, 5, 7, 9, 10, 11)])
def test_an_aa_run_is_never_called_slower_or_faster(
    tmp_path: Path, repeats: tuple[int, ...]
) -> None:
    """none against none-aa alone (deployed the same way): no verdict may claim a
    difference, at any primary percentile, whatever repeats are kept."""
    run = load_run(trimmed(tmp_path, lambda mesh, r: mesh in ("none", "none-aa") and r in repeats))
    assert run.meshes == ["none", "none-aa"]
    o = analyse(run).overhead
    prim = o[o["primary"]]
    assert len(prim) == 2 and not prim["verdict"].isin([SLOWER, FASTER]).any()
