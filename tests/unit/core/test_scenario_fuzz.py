"""No scenario file, however mangled, gives a traceback: every input either loads into a
Scenario whose plan and estimate can be computed, or is refused with a ScenarioError.

Three mutation families over every shipped scenario: bytes (inserted, deleted or
replaced anywhere, so non-UTF-8, NUL and truncation are covered), text lines (YAML
fragments spliced in: anchors, tags, flow maps, deep nesting), and structure (a field of
the parsed document replaced by an arbitrary JSON-like value).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshbench.config.scenario import Scenario, load_scenario
from meshbench.errors import ScenarioError
from meshbench.planning.plan import estimate, plan_trials

SCENARIOS = sorted((Path(__file__).resolve().parents[3] / "scenarios").glob("*.yaml"))
FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
_fragments = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "&a [1, *a]",
            "!!python/object:os.system 'true'",
            "{",
            "- [",
            "? x",
            "load: {rates_rps: [.nan]}",
            "repeats: true",
            "<<: *x",
            "\t",
            "'",
            "[" * 5000,
            "meshes: [none, none]",
            "duration_s: 1e309",
            "%YAML 9.9",
        ]
    ),
)


def _check(path: Path) -> None:
    try:
        s = load_scenario(path)
    except ScenarioError:
        return
    assert isinstance(s, Scenario)
    estimate(s, plan_trials(s))  # a valid scenario can always be planned and costed


def _write(tmp_path: Path, data: bytes) -> Path:
    p = tmp_path / "fuzzed.yaml"
    p.write_bytes(data)
    return p


@pytest.mark.parametrize("source", SCENARIOS, ids=lambda p: p.name)
@FUZZ
@given(
    edits=st.lists(
        st.tuples(st.floats(0, 1), st.integers(0, 2), st.binary(max_size=4)), min_size=1, max_size=6
    )
)
def test_byte_mutations(
    tmp_path: Path, source: Path, edits: list[tuple[float, int, bytes]]
) -> None:
    data = bytearray(source.read_bytes())
    for where, op, blob in edits:
        i = int(where * len(data))
        if op == 0:
            data[i:i] = blob  # insert
        elif op == 1:
            del data[i : i + len(blob) + 1]  # delete
        else:
            data[i : i + len(blob)] = blob  # replace
    _check(_write(tmp_path, bytes(data)))


@pytest.mark.parametrize("source", SCENARIOS, ids=lambda p: p.name)
@FUZZ
@given(where=st.floats(0, 1), fragment=_fragments, indent=st.integers(0, 6))
def test_text_mutations(
    tmp_path: Path, source: Path, where: float, fragment: str, indent: int
) -> None:
    lines = source.read_text().splitlines()
    lines.insert(int(where * len(lines)), " " * indent + fragment)
    _check(_write(tmp_path, "\n".join(lines).encode("utf-8", "surrogatepass")))


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


@pytest.mark.parametrize("source", SCENARIOS, ids=lambda p: p.name)
@FUZZ
@given(pick=st.floats(0, 1), value=_values)
def test_structural_mutations(tmp_path: Path, source: Path, pick: float, value: Any) -> None:
    doc = yaml.safe_load(source.read_text())
    paths = _paths(doc)[1:]
    path = paths[min(int(pick * len(paths)), len(paths) - 1)]
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    _check(
        _write(tmp_path, yaml.safe_dump(doc, allow_unicode=True).encode("utf-8", "surrogatepass"))
    )
