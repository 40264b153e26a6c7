"""Turn a scenario into an ordered list of trials.

Order matters: machines drift (thermal, page cache, background work), so a mesh that
always runs first is flattered or punished. Each repeat runs every cell once, in an
order shuffled with the recorded seed and rotated so that every mesh takes every
position equally often over the repeats.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass

from meshbench.scenario import Scenario


@dataclass(frozen=True)
class Trial:
    """One measured cell: a mesh at a rate, one repetition."""

    trial_id: str
    order: int
    mesh: str
    rate_rps: float
    repeat: int

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def plan_trials(scenario: Scenario) -> list[Trial]:
    """All trials of ``scenario`` in execution order (deterministic for a given seed)."""
    rng = random.Random(scenario.seed)
    meshes = list(scenario.meshes)
    rng.shuffle(meshes)
    trials: list[Trial] = []
    for repeat in range(scenario.repeats):
        rot = repeat % len(meshes)
        mesh_order = meshes[rot:] + meshes[:rot]
        rates = list(scenario.load.rates_rps)
        rng.shuffle(rates)
        for rate in rates:
            for mesh in mesh_order:
                trial_id = f"t{len(trials) + 1:03d}-{mesh}-{_rate_label(rate)}-r{repeat + 1}"
                trials.append(Trial(trial_id, len(trials) + 1, mesh, rate, repeat + 1))
    return trials


def _rate_label(rate_rps: float) -> str:
    return f"{rate_rps:g}rps"
