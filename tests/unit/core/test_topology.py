from __future__ import annotations

import pytest
from pydantic import ValidationError

from meshbench.config.topology import ServiceSpec, Topology, chain


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


def _layered_diamond(layers: int) -> list[ServiceSpec]:
    """``layers`` stacked diamonds: each layer's two services both call the next two."""
    services = [ServiceSpec(name="entry", calls=("l0-a", "l0-b"))]
    for i in range(layers):
        nxt = (f"l{i + 1}-a", f"l{i + 1}-b") if i + 1 < layers else ()
        services += [ServiceSpec(name=f"l{i}-a", calls=nxt), ServiceSpec(name=f"l{i}-b", calls=nxt)]
    return services


def test_request_count_is_exact_and_cheap_for_deep_diamonds() -> None:
    # layer i holds two services each reached by 2**i paths (2**(i+1) requests per layer)
    t_ok = Topology(entry="entry", services=tuple(_layered_diamond(8)))
    counts = t_ok.requests_per_entry_request()
    assert counts["l7-a"] == 2**7
    assert sum(counts.values()) == 1 + sum(2 ** (i + 1) for i in range(8))
    assert t_ok.depth() == 9


def test_exponential_topologies_are_refused_quickly() -> None:
    # 30 layers: about 2**31 requests per entry request; refused by the count, not a walk
    with pytest.raises(ValidationError, match="requests across the graph"):
        Topology(entry="entry", services=tuple(_layered_diamond(30)))


def test_size_and_fan_out_are_bounded() -> None:
    many = tuple(ServiceSpec(name=f"s{i}") for i in range(65))
    with pytest.raises(ValidationError, match="at most 64"):
        Topology(entry="s0", services=many)
    wide = tuple(f"s{i}" for i in range(1, 18))
    with pytest.raises(ValidationError, match="at most 16"):
        ServiceSpec(name="s0", calls=wide)
