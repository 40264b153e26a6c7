from __future__ import annotations

import pytest
from pydantic import ValidationError

from meshbench.topology import ServiceSpec, Topology, chain


def test_chain_shapes() -> None:
    assert [s.name for s in chain(1).services] == ["frontend"]
    assert [s.name for s in chain(3).services] == ["frontend", "middle", "backend"]
    five = chain(5)
    assert five.depth() == 5
    assert five.service("middle-1").calls == ("middle-2",)
    assert five.service("backend").calls == ()


def test_diamond_counts_each_path() -> None:
    t = Topology(
        entry="a",
        services=(
            ServiceSpec(name="a", calls=("b", "c")),
            ServiceSpec(name="b", calls=("d",)),
            ServiceSpec(name="c", calls=("d",)),
            ServiceSpec(name="d"),
            ServiceSpec(name="unused"),
        ),
    )
    assert t.requests_per_entry_request() == {"a": 1, "b": 1, "c": 1, "d": 2, "unused": 0}
    assert [s.name for s in t.reachable()] == ["a", "b", "c", "d"]
    assert t.depth() == 3


def test_cycle_is_rejected_with_the_path() -> None:
    with pytest.raises(ValidationError, match="cycle: a -> b -> a"):
        Topology(
            entry="a",
            services=(ServiceSpec(name="a", calls=("b",)), ServiceSpec(name="b", calls=("a",))),
        )


def test_unknown_call_and_entry() -> None:
    with pytest.raises(ValidationError, match="calls unknown service"):
        Topology(entry="a", services=(ServiceSpec(name="a", calls=("zz",)),))
    with pytest.raises(ValidationError, match="entry 'x' is not one of"):
        Topology(entry="x", services=(ServiceSpec(name="a"),))


def test_names_must_be_dns_labels() -> None:
    with pytest.raises(ValidationError):
        ServiceSpec(name="Front_End")
