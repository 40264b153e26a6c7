"""What each sidecar feature costs: a decomposition arm against the arm it adds one
feature to, by the same blocked contrast as every overhead.

An arm declared with a ``reference`` (:mod:`meshbench.config.meshes`, e.g.
``envoy-mtls-rbac`` adds an RBAC filter of 10 rules to ``envoy-mtls``) differs from it
in exactly one :class:`~meshbench.config.features.SidecarFeatures` setting, so its
overhead against the reference, within each repeat, is that feature's marginal cost:
what turning it off saves, with its interval and verdict. The reference relation is read
from the declarations by arm name.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from meshbench.analysis.overhead import OVERHEAD_COLUMNS, overhead
from meshbench.analysis.stored_run import Run
from meshbench.analysis.verdicts import (
    FASTER,
    INCONCLUSIVE,
    NO_CHANGE,
    SLOWER,
    apply_verdicts,
)
from meshbench.config.features import MINIMAL
from meshbench.config.meshes import find_mesh
from meshbench.config.scenario import AnalysisSpec

FEATURE_COLUMNS = ["feature", "reference", *OVERHEAD_COLUMNS]


def references(meshes: Sequence[str]) -> dict[str, str]:
    """Each decomposition arm of ``meshes`` whose reference arm ran too -> that arm."""
    out = {}
    for m in meshes:
        decl = find_mesh(m)
        if decl is not None and decl.reference is not None and decl.reference in meshes:
            out[m] = decl.reference
    return out


def feature_label(mesh: str) -> str:
    """What an arm adds to its reference: its label (a mesh profile), else its settings,
    e.g. ``rbac_rules=10``."""
    decl = find_mesh(mesh)
    if decl is None:
        return mesh
    return decl.label or ", ".join(decl.features.differences(MINIMAL)) or "minimal"


def feature_costs(
    run: Run,
    *,
    percentiles: Sequence[float],
    spec: AnalysisSpec,
    primary: Sequence[float],
) -> pd.DataFrame:
    """One row per decomposition arm x cell x percentile: ``overhead_ms`` is the feature's
    marginal cost against ``reference`` (the blocked contrast, interval and verdict of
    :func:`~meshbench.analysis.overhead.overhead` with the reference as baseline).
    Empty (same columns) when the run has no decomposition arm beside its reference."""
    refs = references(run.meshes)
    frames = []
    for ref in sorted(set(refs.values())):
        o = overhead(run, baseline=ref, percentiles=percentiles, spec=spec, primary=primary)
        o = o[o["mesh"].isin([m for m, r in refs.items() if r == ref])].copy()
        o.insert(0, "reference", ref)
        o.insert(0, "feature", o["mesh"].map(feature_label))
        frames.append(o)
    if not frames:
        return pd.DataFrame(columns=FEATURE_COLUMNS)
    df = pd.concat(frames, ignore_index=True)[FEATURE_COLUMNS]
    # one Holm family: the feature arms x cells (per percentile), not every arm against
    # the reference
    decided = df["verdict"].isin([SLOWER, FASTER, NO_CHANGE, INCONCLUSIVE])
    df.loc[decided, "verdict"] = ""
    return apply_verdicts(df, 1 - spec.confidence, pd.Series(True, index=df.index))
