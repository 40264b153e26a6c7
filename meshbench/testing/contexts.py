"""A local deployment's context without a platform: no root, no namespaces, nothing
started. For tests of what a :class:`~meshbench.platforms.local.deployment.LocalDeployment`
decides (wires, addresses, CPU windows) before it creates anything."""

from __future__ import annotations

import os
from pathlib import Path

from meshbench.config.scenario import Scenario
from meshbench.host.pinning import Pinning
from meshbench.platforms.local.deployment import LocalContext

RUN_KEY = "abc123"


def offline_context(scenario: Scenario, state_dir: Path) -> LocalContext:
    """The context a local platform would build for ``scenario``, with fixed CPUs (load 0,
    apps and sidecars 1) and this process's environment."""
    return LocalContext(
        scenario=scenario,
        run_key=RUN_KEY,
        hub=f"mb-{RUN_KEY}-hub",
        state_dir=state_dir,
        pinning=Pinning("0", "1", "1", "test: fixed"),
        process_env=dict(os.environ),  # what its processes would inherit
    )
