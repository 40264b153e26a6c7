"""Install windows: the plan's trials regrouped for a platform that runs one mesh at a time.

On kind two meshes cannot share a cluster, so each mesh's trials run between its install
and its removal. Run apart from them, the ``none`` baseline would be measured at another
time, and drift between install windows would read as mesh overhead. Instead the baseline
arms (``none``, and ``none-aa`` when asked) are deployed beside every mesh, in their own
unmeshed namespaces, and each window runs the plan's blocks for that mesh and the
baselines in the plan's interleaved order. Every baseline trial is thus run once per
window; its copies carry the window in their id and in trials.csv ``window``, so analysis
pairs a mesh only with the baseline measured beside it
(:class:`~meshbench.analysis.overhead.CellMatrix`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, replace

from meshbench.config.dimensions import AA_CONTROL, BASELINE
from meshbench.planning.plan import Trial

BASELINE_ARMS = (BASELINE, AA_CONTROL)


@dataclass(frozen=True)
class WindowTrial(Trial):
    """A trial run inside one mesh's install window (``window``: that mesh)."""

    window: str = ""


def in_windows(trials: list[Trial]) -> list[Trial]:
    """``trials`` as one window per mesh deployment (in the plan's order of first use):
    that deployment's trials and, beside them, the baseline arms' trials of the same
    deployed settings and deployment group, all in the plan's order; ``order`` renumbered.
    A plan without a mesh beside its baselines has no windows: grouped by deployment."""
    meshes = list(dict.fromkeys(t.deployment_key for t in trials if t.mesh not in BASELINE_ARMS))
    if not meshes:
        keys = list(dict.fromkeys(t.deployment_key for t in trials))
        grouped = [t for k in keys for t in trials if t.deployment_key == k]
        return [replace(t, order=i + 1) for i, t in enumerate(grouped)]
    out: list[Trial] = []
    for key in meshes:
        mesh = str(key[0])
        for t in trials:
            if t.deployment_key == key:
                out.append(_in_window(t, mesh, t.trial_id))
            elif (
                t.mesh in BASELINE_ARMS
                and t.deployed_settings() == key[1:-1]
                and t.deployment == key[-1]
            ):
                out.append(_in_window(t, mesh, f"{t.trial_id}-in-{mesh}"))
    return [replace(t, order=i + 1) for i, t in enumerate(out)]


def _in_window(t: Trial, window: str, trial_id: str) -> WindowTrial:
    fields = {f.name: getattr(t, f.name) for f in dataclasses.fields(Trial)}
    return WindowTrial(**{**fields, "trial_id": trial_id, "window": window})


def window_key(trial: Trial) -> tuple[object, ...]:
    """The install window ``trial`` runs in, as its mesh deployment's key (``()`` outside
    windows). ``window`` names only the mesh; one mesh has a window per swept deployed
    setting (mTLS on, mTLS off) and per deployment group, each installed on its own."""
    if not isinstance(trial, WindowTrial) or not trial.window:
        return ()
    return (trial.window, *trial.deployed_settings(), trial.deployment)


def deploy_rank(mesh: str) -> int:
    """Where ``mesh`` comes in a window's deployment order: the mesh first, so each
    baseline arm is deployed and proven unmeshed while the mesh is installed, then the
    baseline arms in :data:`BASELINE_ARMS` order (removal is the reverse)."""
    return BASELINE_ARMS.index(mesh) + 1 if mesh in BASELINE_ARMS else 0


def window_of(trial: Trial) -> str:
    """The mesh whose install window ``trial`` runs in ('' outside windows)."""
    return trial.window if isinstance(trial, WindowTrial) else ""
