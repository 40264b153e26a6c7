"""A fake platform for run_scenario tests of what a run keeps: it deploys nothing, keeps
one log per deployment in its own state directory under the name the run gives it, and
can fail where a test asks (class-wide settings: the run builds the platform itself)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

import pytest
import yaml

from meshbench.config.scenario import Scenario
from meshbench.config.topology import Topology
from meshbench.errors import PlatformError
from meshbench.load.spec import LoadRequest, LoadSummary
from meshbench.platforms.base import Deployment, Platform, PlatformEnvironment
from meshbench.runner import run
from meshbench.testing.fake_deployment import NoSidecarDeployment, canned_load


class _Dep(NoSidecarDeployment):
    def __init__(self, platform: GroupedPlatform, mesh: str) -> None:
        self.platform = platform
        self.mesh = mesh

    def target_url(self) -> str:
        return "http://127.0.0.1:9/"

    def run_load(self, request: LoadRequest, out_dir: Path) -> LoadSummary:
        GroupedPlatform.loads += 1
        if GroupedPlatform.before_load is not None:
            GroupedPlatform.before_load(GroupedPlatform.loads)
        if GroupedPlatform.loads == GroupedPlatform.fail_at:
            raise GroupedPlatform.failure
        return canned_load(request, out_dir)


class GroupedPlatform(Platform):
    """Keeps one log per deployment in its own state directory, named as asked, and
    copies them into the run as the local platform does."""

    name = "fake"
    concurrent_meshes = True
    attempt: ClassVar[int] = 1
    loads: ClassVar[int] = 0
    fail_at: ClassVar[int | None] = None
    failure: ClassVar[BaseException] = PlatformError("pod exploded")
    broken_init: ClassVar[BaseException | None] = None
    broken_logs: ClassVar[BaseException | None] = None
    state_root: ClassVar[Path]
    before_load: ClassVar[Callable[[int], None] | None] = None
    built: ClassVar[int] = 0

    def __init__(self, scenario: Scenario) -> None:
        if self.broken_init is not None:
            raise self.broken_init
        super().__init__(scenario)
        GroupedPlatform.built += 1
        self.state = Path(tempfile.mkdtemp(prefix="state-", dir=self.state_root))

    def environment(self) -> PlatformEnvironment:
        return PlatformEnvironment(name=self.name)

    @contextmanager
    def deploy(
        self,
        mesh: str,
        topology: Topology,
        mtls: bool | None = None,
        name: str | None = None,
        capture: bool = False,
    ) -> Iterator[Deployment]:
        d = self.state / (name or mesh)
        d.mkdir()  # a deployment named like an earlier one of this attempt fails here
        (d / "app.log").write_text(f"{name or mesh} of attempt {self.attempt}\n")
        yield _Dep(self, mesh)

    def collect_logs(self, dest: Path) -> None:
        if self.broken_logs is not None:
            raise self.broken_logs
        for log in sorted(self.state.rglob("*.log")):
            target = dest / log.relative_to(self.state)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(log, target)


def use_grouped_platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every run of this test on a fresh :class:`GroupedPlatform`; returns the scenario
    file: none and envoy, 2 repeats in 2 deployment groups, 4 trials."""
    p = GroupedPlatform
    p.attempt, p.loads, p.fail_at, p.built = 1, 0, None, 0
    p.failure = PlatformError("pod exploded")
    p.broken_init = p.broken_logs = None
    p.before_load = None
    p.state_root = tmp_path
    monkeypatch.setattr(run, "platform_class", lambda name: p)
    path = tmp_path / "s.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "groups",
                "meshes": ["none", "envoy"],
                "repeats": 2,
                "deployments": 2,
                "load": {"rates_rps": [20], "duration_s": 1, "warmup_s": 0},
            }
        )
    )
    return path
