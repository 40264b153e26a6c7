"""Named baselines: copies of runs to gate later runs against (``meshbench baseline save``).

A baseline is kept under ``<root>/<scenario>/<host fingerprint>/<name>/``: a copy of the
run (run.json, trials.csv, histograms, per-trial JSON; not its logs, plots or reports)
and ``baseline.json`` saying where it came from. Keyed that way, ``gate --against NAME``
finds the baseline measured by the same scenario on the same kind of host as the
candidate; one saved for another scenario or host is refused unless forced, naming what
differs (:mod:`meshbench.results.fingerprint`).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from meshbench.errors import ResultsError
from meshbench.results import store
from meshbench.results.fingerprint import describe, host_differences, host_fingerprint

DEFAULT_ROOT = Path("baselines")
BASELINE_JSON = "baseline.json"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_NOT_COPIED = ("logs", "plots", "report.html", "summary.md", "compare-*", "gate-*", "export")


@dataclass(frozen=True)
class Baseline:
    """A saved baseline: its name, key and the copy of the run."""

    name: str
    scenario: str
    fingerprint: str
    run_dir: Path
    source: str
    """The run directory it was copied from."""
    saved_utc: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "scenario": self.scenario,
            "host_fingerprint": self.fingerprint,
            "source": self.source,
            "saved_utc": self.saved_utc,
        }

    @classmethod
    def read(cls, run_dir: Path) -> Baseline:
        """The baseline whose run copy is ``run_dir`` (it holds ``baseline.json``)."""
        try:
            d = json.loads((run_dir / BASELINE_JSON).read_text())
            return cls(
                str(d["name"]),
                str(d["scenario"]),
                str(d["host_fingerprint"]),
                run_dir,
                str(d.get("source", "")),
                str(d.get("saved_utc", "")),
            )
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ResultsError(
                f"{run_dir} is not a baseline meshbench saved ({BASELINE_JSON}: {e})",
                fix="save it again with `meshbench baseline save RUN NAME`",
            ) from None


def _scenario_name(meta: dict[str, Any]) -> str:
    return str((meta.get("scenario") or {}).get("name") or "unnamed")


def baseline_dir(root: Path, meta: dict[str, Any], name: str) -> Path:
    """Where the baseline ``name`` of a run with run.json ``meta`` is kept."""
    return root / _scenario_name(meta) / host_fingerprint(meta) / name


def _check_name(name: str) -> None:
    if not NAME.match(name):
        raise ResultsError(
            f"baseline name {name!r} is not allowed",
            fix="use letters, digits, '.', '_' and '-' (up to 64, starting with a letter "
            "or digit), e.g. main or istio-1.30",
        )


def save_baseline(
    run_dir: Path, name: str, root: Path = DEFAULT_ROOT, *, force: bool = False
) -> Baseline:
    """Copy the run at ``run_dir`` into the store as baseline ``name``.

    Refuses a run that did not complete, and a name already saved for this scenario and
    host, unless ``force`` (then the old copy is replaced, atomically).
    """
    _check_name(name)
    meta = store.read_run_json(run_dir)
    status = str(meta.get("status", "unknown"))
    if status != "complete" and not force:
        raise ResultsError(
            f"run {run_dir} has status {status!r}; a baseline should be a complete run",
            fix=f"finish it with `meshbench run --resume {run_dir} SCENARIO`, or pass --force",
        )
    dest = baseline_dir(root, meta, name)
    if dest.exists() and not force:
        raise ResultsError(
            f"baseline {name!r} already exists for scenario {_scenario_name(meta)!r} on this "
            f"host ({dest})",
            fix="pass --force to replace it, or choose another name",
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=dest.parent))
    try:
        copy = tmp / "run"
        shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns(*_NOT_COPIED))
        b = Baseline(
            name,
            _scenario_name(meta),
            host_fingerprint(meta),
            dest,
            str(Path(run_dir).resolve()),
            store.utc_now(),
        )
        store.write_json(copy / BASELINE_JSON, {**b.to_dict(), "host": meta.get("host") or {}})
        old = tmp / "old"
        if dest.exists():
            dest.rename(old)
        copy.rename(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return b


def list_baselines(root: Path = DEFAULT_ROOT) -> list[Baseline]:
    """Every baseline under ``root``, by scenario, fingerprint and name."""
    if not root.is_dir():
        return []
    return [Baseline.read(p.parent) for p in sorted(root.glob(f"*/*/*/{BASELINE_JSON}"))]


def find_baseline(
    name: str, meta: dict[str, Any], root: Path = DEFAULT_ROOT, *, force: bool = False
) -> tuple[Baseline, list[str]]:
    """The baseline ``name`` for a candidate run with run.json ``meta``, and what differs
    between them (empty unless forced).

    Looks under the candidate's scenario and host fingerprint. A baseline of that name
    saved only for another scenario or host is refused, naming what differs, unless
    ``force`` (then the one of the same scenario is preferred; several are refused).
    """
    _check_name(name)
    exact = baseline_dir(root, meta, name)
    if (exact / BASELINE_JSON).exists():
        return Baseline.read(exact), []
    others = [b for b in list_baselines(root) if b.name == name]
    if not others:
        saved = sorted({b.name for b in list_baselines(root)})
        raise ResultsError(
            f"no baseline named {name!r} under {root}"
            + (f" (saved: {', '.join(saved)})" if saved else " (none saved)"),
            fix=f"save one with `meshbench baseline save RUN {name}` (and --baselines {root} "
            "if it is kept elsewhere)",
        )
    differ = {b.run_dir: _differences(b, meta) for b in others}
    if not force:
        listed = "; ".join(f"{b.run_dir}: {', '.join(differ[b.run_dir])}" for b in others)
        raise ResultsError(
            f"baseline {name!r} was saved for another scenario or host than this run "
            f"(scenario {_scenario_name(meta)!r}, host {describe(meta)}): {listed}",
            fix="gate against a baseline measured by the same scenario on the same kind of "
            "host, or pass --force",
        )
    same = [b for b in others if b.scenario == _scenario_name(meta)]
    pick = same if same else others
    if len(pick) > 1:
        raise ResultsError(
            f"{len(pick)} baselines named {name!r} match no host exactly: "
            + ", ".join(str(b.run_dir) for b in pick),
            fix="gate against the run directory of the one you mean",
        )
    return pick[0], differ[pick[0].run_dir]


def _differences(b: Baseline, meta: dict[str, Any]) -> list[str]:
    out = []
    if b.scenario != _scenario_name(meta):
        out.append(f"scenario: {b.scenario!r} vs {_scenario_name(meta)!r}")
    base_meta = store.read_run_json(b.run_dir)
    out += host_differences(base_meta, meta)
    return out or [f"host fingerprint {b.fingerprint} vs {host_fingerprint(meta)}"]
