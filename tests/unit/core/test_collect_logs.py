"""Both platforms keep their logs inside the run directory: a linked ``logs/`` is refused,
a log that was replaced by a link is not copied, the other logs still are."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshbench.config.scenario import parse_scenario
from meshbench.platforms.base import Platform
from meshbench.platforms.kind.platform import KindPlatform
from meshbench.platforms.local.platform import LocalPlatform
from meshbench.results.rundir import LinkRefused


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    d = tmp_path / "outside"
    d.mkdir()
    (d / "secret").write_text("not meshbench's\n")
    return d


def _local(state: Path) -> Platform:
    """A local platform as far as its logs go (the rest needs root and namespaces)."""
    platform = LocalPlatform.__new__(LocalPlatform)
    platform.state_dir = state
    return platform


def _kind(work: Path) -> Platform:
    sc = parse_scenario(
        {
            "name": "k",
            "platform": "kind",
            "meshes": ["none", "istio"],
            "load": {"rates_rps": [100], "duration_s": 10},
        }
    )
    return KindPlatform(sc, work_dir=work)


def _logs_of(platform: Platform, tmp_path: Path) -> Path:
    """Where each platform keeps its logs until the run collects them."""
    return tmp_path / "state" if isinstance(platform, LocalPlatform) else tmp_path / "work" / "logs"


@pytest.mark.parametrize("make", [_local, _kind], ids=["local", "kind"])
def test_logs_are_copied_per_deployment_and_never_through_a_link(
    make: object, tmp_path: Path, outside: Path
) -> None:
    platform = _local(tmp_path / "state") if make is _local else _kind(tmp_path / "work")
    src = _logs_of(platform, tmp_path) / "envoy-g2"
    src.mkdir(parents=True)
    (src / "frontend.log").write_text("frontend\n")
    (src / "planted.log").symlink_to(outside / "secret")  # a link put where a log was
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(LinkRefused, match=r"planted\.log is a symbolic link"):
        platform.collect_logs(run / "logs")
    assert (run / "logs" / "envoy-g2" / "frontend.log").read_text() == "frontend\n"
    assert not (run / "logs" / "envoy-g2" / "planted.log").exists()

    (src / "planted.log").unlink()
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "logs").symlink_to(outside)
    with pytest.raises(LinkRefused, match="logs is a symbolic link"):
        platform.collect_logs(linked / "logs")
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
