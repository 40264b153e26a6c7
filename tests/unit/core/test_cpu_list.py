"""One parser for CPU lists (taskset / cpuset syntax), strict everywhere: the scenario,
the kernel's lists, ``--cpus``; an error names the field and the value."""

from __future__ import annotations

import pytest

from meshbench.config.cpu_list import parse_cpu_list
from meshbench.host.pinning import Pinning


@pytest.mark.parametrize(
    ("spec", "cpus"),
    [("0", [0]), ("0,2-3, 5", [0, 2, 3, 5]), ("3-3", [3]), ("4,0-1,1", [0, 1, 4])],
)
def test_cpu_lists_parse(spec: str, cpus: list[int]) -> None:
    assert parse_cpu_list(spec) == cpus


@pytest.mark.parametrize("spec", ["", ",", "0,", "-", "1-0", "1-", "-1", "a", "1-2-3", "²"])
def test_a_malformed_cpu_list_is_refused_naming_its_field(spec: str) -> None:
    with pytest.raises(ValueError, match=rf"^local.pod_cpus {spec!r}: each part must be N"):
        parse_cpu_list(spec, "local.pod_cpus")


def test_the_pinning_sentence() -> None:
    p = Pinning("0", "1", "2-3", "scenario")
    assert p.describe() == "load 0, apps 1, sidecars 2-3 (scenario)"
    assert (
        p.describe(on_cpus=True)
        == "load on CPUs 0, apps on CPUs 1, sidecars on CPUs 2-3 (scenario)"
    )
    assert Pinning("0", "1", "1", "").describe() == "load 0, apps 1, sidecars 1"


def test_a_stored_pinning_reads_as_recorded() -> None:
    old = Pinning.from_json({"load_cpus": "0", "pod_cpus": "1"}, "-")  # before sidecar_cpus
    assert old == Pinning("0", "1", "1", "")
    assert Pinning.from_json({}, "-").describe(on_cpus=True) == (
        "load on CPUs -, apps on CPUs -, sidecars on CPUs -"
    )
    p = Pinning("0", "1", "2", "measured")
    assert Pinning.from_json(p.to_json(), "-") == p
