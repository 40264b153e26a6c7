"""What a cell of the sweep is, defined once: the arm (a mesh, or one of the baselines)
and the swept settings (rate, connections, payload, depth, mTLS, protocol, connection
churn, attribution's capture).

Each :class:`Dimension` says where its values come from in a scenario, how it is named in
trial ids, deployment names, report titles and plot axes, whether a new value needs a new
deployment, and what it is in a stored run when the scenario did not sweep it. Plan, run,
store, analysis, report, plots and the kind plan read :data:`DIMENSIONS` instead of
repeating it: adding a setting is one :class:`Dimension` here, a field of
:class:`~meshbench.planning.plan.Trial`, of :class:`Cell` and of the scenario's ``sweep``, plus the
code that uses it.

Two forms of a value: *planned* (``None`` where the scenario does not sweep the setting:
the topology or the mesh decides) and *stored* (what analysis reads: filled from the
scenario, ``mtls`` as ``"on"``, ``"off"`` or ``"default"``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from meshbench.config.protocols import Protocol

if TYPE_CHECKING:
    import pandas as pd

BASELINE = "none"
"""The arm every overhead is measured against (``none``: no mesh), on every platform."""

AA_CONTROL = "none-aa"
"""A second, independent baseline arm deployed like ``none`` (``aa_control: true``): its
difference from ``none`` is the run's noise floor, and a significant one means the run is
not trustworthy."""

Scenario = Mapping[str, Any]
"""A scenario as run.json stores it (``Scenario.model_dump(mode="json")``)."""


def _sweep(name: str) -> Callable[[Scenario], tuple[Any, ...] | None]:
    return lambda sc: tuple(v) if (v := (sc.get("sweep") or {}).get(name)) else None


def _entry_payload(sc: Scenario) -> int:
    topology = sc.get("topology")
    if not topology:
        return -1
    entry = str(topology.get("entry", "frontend"))
    for svc in topology.get("services", ()):
        if str(svc.get("name")) == entry:
            return int(svc.get("payload_bytes", 1024))
    return -1


def topology_depth(topology: Mapping[str, Any] | None) -> int:
    """Hops on the longest call path of a dumped topology (1 = entry only); 0 if unknown."""
    if not topology:
        return 0
    services = {str(s["name"]): [str(c) for c in s.get("calls", ())] for s in topology["services"]}
    entry = str(topology.get("entry", "frontend"))
    if entry not in services:
        return 0

    def depth(name: str, seen: frozenset[str]) -> int:
        calls = [c for c in services.get(name, []) if c not in seen]
        return 1 + max((depth(c, seen | {c}) for c in calls), default=0)

    return depth(entry, frozenset({entry}))


def stored_mtls(value: object) -> str:
    """A stored ``mtls`` value as analysis reads it: ``on``, ``off`` or ``default``."""
    v = str(value).strip().lower()
    return "on" if v in ("true", "1", "yes") else "off" if v in ("false", "0", "no") else "default"


@dataclass(frozen=True)
class Dimension:
    """One setting that varies between cells."""

    name: str
    """Field of a trial and a :class:`Cell`, column of trials.csv and of every frame."""
    stored_type: type
    """What analysis holds: ``float``, ``int`` or ``str``."""
    swept: Callable[[Scenario], tuple[Any, ...] | None]
    """The scenario's list of values, or None when it does not sweep this setting."""
    unswept: Callable[[Scenario], Any]
    """The planned value when not swept (None: the topology or the mesh decides)."""
    default: Callable[[Scenario], Any]
    """The stored value when not swept (what the run actually used)."""
    tag: Callable[[Any], str]
    """In trial ids and deployment names: ``150rps``, ``c16``, ``1024B``, ``d3``, ``mtls``."""
    title: Callable[[Any], str]
    """In report titles, of a stored value: ``150 rps``, ``16 conn``, ``mTLS on``."""
    deployed: bool = False
    """A new value needs a new deployment (a topology or mesh setting)."""
    phrase: Callable[[Any], str] = str
    """In the kind plan's phases, of a planned value: ``depth=3``, ``plaintext``."""
    axis: str = ""
    """Plot axis label; empty: no overhead-against-this plot."""
    parse: Callable[[object], Any] | None = None
    """Reads a trials.csv field, empty included; None: the stored type, or the default."""

    def values(self, scenario: Scenario) -> tuple[Any, ...]:
        """The planned values of a scenario, in its order."""
        return self.swept(scenario) or (self.unswept(scenario),)

    def from_stored(self, raw: object, default: Any) -> Any:
        """One trials.csv field in its analysis type; ``default`` where it is empty."""
        if self.parse is not None:
            return self.parse(raw)
        text = str(raw).strip()
        return self.stored_type(text) if text else default


RATE = Dimension(
    "rate_rps",
    float,
    swept=lambda sc: tuple(float(r) for r in sc["load"]["rates_rps"]),
    unswept=lambda sc: None,
    default=lambda sc: math.nan,
    tag=lambda v: f"{v:g}rps",
    title=lambda v: f"{v:g} rps",
)
CONNECTIONS = Dimension(
    "connections",
    int,
    swept=_sweep("connections"),
    unswept=lambda sc: int((sc.get("load") or {}).get("connections", 16)),
    default=lambda sc: int((sc.get("load") or {}).get("connections", 0) or 0),
    tag=lambda v: f"c{v}",
    title=lambda v: f"{v} conn",
    axis="connections",
)
PAYLOAD = Dimension(
    "payload_bytes",
    int,
    swept=_sweep("payload_bytes"),
    unswept=lambda sc: None,
    default=_entry_payload,
    tag=lambda v: f"{v}B",
    title=lambda v: f"{v} B",
    deployed=True,
    phrase=lambda v: f"payload={v}B",
    axis="response payload (bytes)",
)
DEPTH = Dimension(
    "depth",
    int,
    swept=_sweep("depth"),
    unswept=lambda sc: None,
    default=lambda sc: topology_depth(sc.get("topology")),
    tag=lambda v: f"d{v}",
    title=lambda v: f"depth {v}",
    deployed=True,
    phrase=lambda v: f"depth={v}",
    axis="call-chain depth (hops)",
)
MTLS = Dimension(
    "mtls",
    str,
    swept=_sweep("mtls"),
    unswept=lambda sc: None,
    default=lambda sc: "default",
    tag=lambda v: "mtls" if v else "plain",
    title=lambda v: f"mTLS {v}",
    deployed=True,
    phrase=lambda v: "mtls" if v else "plaintext",
    parse=stored_mtls,
)


def _topology_setting(name: str, fallback: Any) -> Callable[[Scenario], Any]:
    return lambda sc: (sc.get("topology") or {}).get(name, fallback)


PROTOCOL = Dimension(
    "protocol",
    str,
    swept=_sweep("protocol"),
    unswept=lambda sc: None,
    default=_topology_setting("protocol", "http1"),
    tag=str,
    title=str,
    deployed=True,
    phrase=lambda v: f"protocol={v}",
    axis="",
)
CHURN = Dimension(
    "requests_per_connection",
    int,
    swept=_sweep("requests_per_connection"),
    unswept=lambda sc: None,
    default=_topology_setting("requests_per_connection", 0),
    tag=lambda v: "keepalive" if v == 0 else f"churn{v}",
    title=lambda v: "keep-alive" if v == 0 else f"new conn every {v}",
    deployed=True,
    phrase=lambda v: "keep-alive" if v == 0 else f"churn={v}",
    axis="",
)


def _capture_swept(sc: Scenario) -> tuple[str, ...] | None:
    a = sc.get("attribution") or {}
    return ("on", "off") if a.get("enabled") and a.get("observer", True) else None


def _capture_unswept(sc: Scenario) -> str | None:
    return "on" if (sc.get("attribution") or {}).get("enabled") else None


CAPTURE = Dimension(
    "capture",
    str,
    swept=_capture_swept,
    unswept=_capture_unswept,
    default=lambda sc: _capture_unswept(sc) or "off",
    tag=lambda v: "cap" if v == "on" else "nocap",
    title=lambda v: f"capture {v}",
    deployed=True,
    phrase=lambda v: f"capture {v}",
)
"""Attribution mode's captures: on (every pod captured, requests named), or off in the
same run (``attribution.observer``), to measure what capturing changes."""

DIMENSIONS: tuple[Dimension, ...] = (
    RATE,
    CONNECTIONS,
    PAYLOAD,
    DEPTH,
    MTLS,
    PROTOCOL,
    CHURN,
    CAPTURE,
)
"""Every dimension, in column order (trials.csv, frames, trial-id labels, titles)."""

DIMS: tuple[str, ...] = tuple(d.name for d in DIMENSIONS)
"""Columns that, with ``mesh``, identify a cell: trials of one cell are repeats of the same
measurement. Values a scenario does not sweep are filled from the scenario (``mtls`` is
``"default"`` then: whatever the mesh does), so every stored trial has all of them."""

CELL: tuple[str, ...] = ("mesh", *DIMS)

VARIANT_DIMS: tuple[str, ...] = tuple(d for d in DIMS if d != RATE.name)
"""A cell without its rate: one line of a latency-against-rate plot or table."""

DEPLOYED: tuple[Dimension, ...] = (DEPTH, PAYLOAD, MTLS, PROTOCOL, CHURN, CAPTURE)
"""The settings a deployment is built for, in the order its name shows them."""


def by_name(name: str) -> Dimension:
    """The dimension called ``name`` (ValueError naming the known ones otherwise)."""
    for d in DIMENSIONS:
        if d.name == name:
            return d
    raise ValueError(f"unknown dimension {name!r}; known: {list(DIMS)}")


def expand(scenario: Scenario) -> list[dict[str, Any]]:
    """Every cell of a scenario's sweep (planned values), rates outermost, in the order of
    :data:`DIMENSIONS`; the plan shuffles them per repeat."""
    return [
        dict(zip(DIMS, values, strict=True))
        for values in itertools.product(*(d.values(scenario) for d in DIMENSIONS))
    ]


def cell_label(cell: Mapping[str, Any], scenario: Scenario) -> str:
    """The cell part of a trial id: the rate, plus each swept setting (``300rps-c8-d2``)."""
    return "-".join(
        d.tag(cell[d.name]) for d in DIMENSIONS if d is RATE or d.swept(scenario) is not None
    )


def deployment_label(mesh: str, values: Mapping[str, Any], group: int = 1) -> str:
    """A file-name-safe name of a deployment: the mesh, the swept deployed settings
    (planned values, None: not swept), and ``g<n>`` for the n-th fresh deployment."""
    parts = [mesh, *(d.tag(values[d.name]) for d in DEPLOYED if values[d.name] is not None)]
    if group > 1:
        parts.append(f"g{group}")
    return "-".join(parts)


def deployment_phrase(mesh: str, values: Mapping[str, Any]) -> str:
    """A deployment in words, for the kind plan: ``istio depth=3 payload=100B plaintext``."""
    return " ".join(
        [mesh, *(d.phrase(values[d.name]) for d in DEPLOYED if values[d.name] is not None)]
    )


@dataclass(frozen=True, order=True)
class Cell:
    """One point of the sweep as a stored run holds it (all meshes are measured at each)."""

    rate_rps: float
    connections: int
    payload_bytes: int
    depth: int
    mtls: str  # "on", "off" or "default"
    protocol: Protocol = "http1"
    requests_per_connection: int = 0
    capture: str = "off"

    def title(self, swept: Sequence[str]) -> str:
        """``"300 rps"``, plus the other swept settings: ``"300 rps, depth 2, 1024 B"``."""
        return ", ".join(
            d.title(getattr(self, d.name)) for d in DIMENSIONS if d is RATE or d.name in swept
        )

    def as_dict(self) -> dict[str, Any]:
        return {d: getattr(self, d) for d in DIMS}

    def matches(self, frame: pd.DataFrame) -> pd.Series:
        """Boolean mask of the rows of ``frame`` (a frame with the :data:`DIMS` columns)
        that belong to this cell; float settings compare within rounding."""
        import numpy as np
        import pandas as pd

        mask = np.ones(len(frame), dtype=bool)
        for d in DIMENSIONS:
            value = getattr(self, d.name)
            if d.stored_type is float:
                mask &= np.isclose(frame[d.name].to_numpy(dtype=float), value)
            else:
                mask &= (frame[d.name] == value).to_numpy()
        return pd.Series(mask, index=frame.index)


def cell_of(row: Any) -> Cell:
    """The cell of a frame row (a record dict or a Series with the :data:`DIMS` keys)."""
    return Cell(**{d.name: d.stored_type(row[d.name]) for d in DIMENSIONS})
