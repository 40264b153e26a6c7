from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from meshbench.config.scenario import Scenario
from meshbench.platforms.kind.platform import KindPlatform

from .fakes import (
    START_EPOCH_S,
    FakeBin,
    FakeKubeApi,
    Rule,
    apply_env,
    make_source_dir,
    no_sleep_clock,
)

Build = Callable[..., tuple[KindPlatform, FakeBin, FakeKubeApi]]


@pytest.fixture
def build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Build:
    """A KindPlatform wired to fake executables on PATH and an in-memory API."""

    def _build(
        sc: Scenario,
        *,
        rules: dict[str, list[Rule]] | None = None,
        tools: tuple[str, ...] | None = None,
        **api_kwargs: Any,
    ) -> tuple[KindPlatform, FakeBin, FakeKubeApi]:
        base_rules: dict[str, list[Rule]] = {
            "kind": [
                Rule("kind get clusters", stdout=sc.kind.cluster_name),
                Rule("kind version", stdout="kind v0.33.0 go1.25 linux/amd64"),
            ],
            "kubectl": [Rule("kubectl config get-contexts*", stdout="kind-meshbench\nstaging")],
        }
        for tool, extra in (rules or {}).items():
            base_rules[tool] = extra + base_rules.get(tool, [])
        fake = FakeBin(tmp_path / "bin", base_rules)
        if tools is None:
            fake.install()
        else:
            fake.install(tools)
        apply_env(monkeypatch, fake)
        api = FakeKubeApi(sc, **api_kwargs)
        api.calls_log = fake.log
        work = tmp_path / "work"
        work.mkdir()
        # Wall time such that the load workers' shared start is START_EPOCH_S exactly.
        clock = no_sleep_clock(START_EPOCH_S - sc.kind.load_start_delay_s)
        api.clock = clock
        platform = KindPlatform(
            sc,
            api_factory=lambda context: api,
            work_dir=work,
            clock=clock,
            source_dir=make_source_dir(tmp_path),
        )
        return platform, fake, api

    return _build
