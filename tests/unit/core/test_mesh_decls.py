"""Every mesh is declared once (:mod:`meshbench.config.meshes`): scenario validation reads
the declarations, and the declarations agree with themselves."""

from __future__ import annotations

from typing import Any

import pytest

from meshbench.config.dimensions import AA_CONTROL, BASELINE
from meshbench.config.meshes import MESH_DECLS, PLATFORMS, MeshDecl, Platform, mesh_names, meshes_on
from meshbench.config.scenario import MESH_NAMES, parse_scenario
from meshbench.errors import ScenarioError

LISTED = [d for d in MESH_DECLS if d.listed]


def _scenario(platform: str, meshes: list[str]) -> dict[str, Any]:
    return {
        "name": "t",
        "platform": platform,
        "meshes": meshes,
        "load": {"rates_rps": [100], "duration_s": 2},
    }


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("decl", LISTED, ids=lambda d: d.name)
def test_a_declared_mesh_is_accepted_on_its_platforms_and_refused_elsewhere(
    decl: MeshDecl, platform: Platform
) -> None:
    data = _scenario(platform, list(dict.fromkeys([BASELINE, decl.name])))
    if platform in decl.platforms:
        assert decl.name in parse_scenario(data, "x.yaml").meshes
        return
    with pytest.raises(ScenarioError) as e:
        parse_scenario(data, "x.yaml")
    msg = str(e.value)
    assert f"[{decl.name!r}] are not available on platform {platform!r}" in msg
    assert f"allowed: {list(mesh_names(platform))}" in msg  # the choices, named


def test_the_scenario_accepts_exactly_the_declared_names() -> None:
    assert {p: mesh_names(p) for p in PLATFORMS} == MESH_NAMES
    for p in PLATFORMS:
        assert MESH_NAMES[p][0] == BASELINE
        assert set(MESH_NAMES[p]) == {d.name for d in LISTED if p in d.platforms}


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_aa_control_is_declared_but_only_aa_control_adds_it(platform: str) -> None:
    assert AA_CONTROL in {d.name for d in MESH_DECLS if platform in d.platforms}
    with pytest.raises(ScenarioError, match="not available"):
        parse_scenario(_scenario(platform, [BASELINE, AA_CONTROL]), "x.yaml")
    arms = parse_scenario({**_scenario(platform, [BASELINE]), "aa_control": True}).arms
    assert AA_CONTROL in arms


def test_names_are_unique_and_the_baselines_have_no_data_plane() -> None:
    names = [d.name for d in MESH_DECLS]
    assert len(names) == len(set(names))
    for d in MESH_DECLS:
        unmeshed = d.name in (BASELINE, AA_CONTROL)
        assert (d.data_plane == "none") is unmeshed, d.name
        if unmeshed:
            assert d.platforms == PLATFORMS and d.mtls == "off" and not d.proxy, d.name
            assert (d.stats, d.install, d.version_key, d.probe) == (None,) * 4, d.name
        else:
            assert d.proxy and len(d.platforms) == 1, d.name


@pytest.mark.parametrize("decl", meshes_on("kind"), ids=lambda d: d.name)
def test_a_kind_data_plane_is_declared_consistently(decl: MeshDecl) -> None:
    """A sidecar mesh names its container; a node proxy is read in its own pods."""
    assert (decl.sidecar_container is not None) is (decl.data_plane == "sidecar")
    if decl.data_plane != "none":
        assert decl.stats is not None
        assert decl.stats.node_proxy is (decl.data_plane == "node proxy")
        assert decl.ns_labels or decl.ns_annotations  # something enrols its namespaces
        assert decl.opt_out_labels or decl.opt_out_annotations  # and keeps the baseline out


def test_no_two_meshes_disagree_on_an_opt_out() -> None:
    """The baseline's namespaces carry every opt-out at once: one key, one value."""
    for field in ("opt_out_labels", "opt_out_annotations"):
        seen: dict[str, str] = {}
        for d in MESH_DECLS:
            for k, v in getattr(d, field).items():
                assert seen.setdefault(k, v) == v, (d.name, k)
