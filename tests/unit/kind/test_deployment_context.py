"""A kind deployment works from its context alone (the API, clock, runner and executor a
platform would give it): no platform object exists in this test."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from meshbench.platforms.kind.deployment import KindContext, KindDeployment
from meshbench.platforms.kind.meshes import mesh as mesh_named
from meshbench.platforms.kind.plan import KindPlan, repo_root
from meshbench.platforms.kind.steps import Runner, Step
from meshbench.platforms.kind.target import target_for

from .fakes import FakeKubeApi, no_sleep_clock, scenario


def test_a_kind_deployment_verifies_through_its_context_alone(tmp_path: Path) -> None:
    sc = scenario(meshes=["istio"])
    api = FakeKubeApi(sc, sidecar="istio-proxy")
    executed: list[str] = []

    def execute(steps: Sequence[Step], handlers: dict[str, Callable[[], None]]) -> None:
        for step in steps:  # as the platform does: an api step by its handler
            executed.append(step.what)
            if step.kind == "api" and step.key in handlers:
                handlers[step.key]()

    context = KindContext(
        api=api,
        clock=no_sleep_clock(),
        runner=Runner(),
        execute=execute,
        installed_mesh="istio",
    )
    plan = KindPlan(sc, target_for(sc, tmp_path), repo_root()).for_mesh("istio")
    dep = KindDeployment(context, mesh_named("istio"), plan.variant(), plan)
    assert not hasattr(dep, "platform")
    assert dep.problems() == []
    proof = dep.verify()
    assert proof.crossed_sidecars
    assert proof.details["mesh_installed"] == "istio"  # the context's, not a platform's
    assert api.probes_done  # the probe Job's completion was read through the context's API
    # the probe's steps, its delete last, all through the context's executor
    assert executed[0].startswith("probe:") and executed[-1].startswith("delete")
    assert len(executed) == 3
