"""One stored trial: the typed row of ``trials.csv``, how it is written and how it is read
back and checked.

The sweep settings of a trial are not fields of their own: :attr:`TrialRecord.sweep` holds
one value per :data:`~meshbench.config.dimensions.DIMENSIONS` entry, and their columns follow
that model, so a new dimension needs no change here. Everything else a row holds is a
field of :class:`TrialRecord`, and its annotation is the column's type.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from meshbench.config.dimensions import DIMENSIONS, DIMS


class FieldError(ValueError):
    """A trials.csv field its column's type cannot hold."""

    def __init__(self, column: str, value: str, expected: str) -> None:
        super().__init__(f"{column} is {value!r}, not {expected}")
        self.column = column
        self.value = value
        self.expected = expected


@dataclass(frozen=True, kw_only=True)
class TrialRecord:
    """One measured trial as ``trials.csv`` stores it. Latencies in ms; CPU in cores;
    memory in MiB.

    Figures are None where nothing was measured or where the run was recorded before the
    column existed (empty in the file); ``deployment`` None reads as 1 (runs before fresh
    deployments existed). ``host_*`` (:mod:`meshbench.host.activity`): CPU steal (max over the
    pinned CPUs, %), their busy share (%), cores used by processes that are not
    meshbench's, CPU frequency (MHz), and why the host state was flagged ('' = it was not).
    """

    trial_id: str
    order: int | None = None
    mesh: str = ""  # "none-aa" is the A/A control arm
    repeat: int | None = None
    deployment: int | None = None
    window: str = ""
    """Where a platform runs one mesh at a time (kind), the mesh whose install window the
    trial ran in; baseline trials run in every window and are paired only with that
    window's mesh ('' : all arms side by side, as in every older run)."""
    sweep: Mapping[str, Any] = field(default_factory=dict)
    """This trial's point of the sweep as planned, by dimension name: None where the
    scenario did not sweep the setting (the topology or the mesh decided)."""
    valid: bool
    invalid_reason: str = ""
    requests: int | None = None
    errors: int | None = None
    warmup_requests: int | None = None
    duration_s: float | None = None
    achieved_rps: float | None = None
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    p999_ms: float | None = None
    max_ms: float | None = None
    mean_ms: float | None = None
    service_p50_ms: float | None = None
    service_p99_ms: float | None = None
    send_lag_p50_ms: float | None = None
    send_lag_p99_ms: float | None = None
    send_lag_max_ms: float | None = None
    generator_cpu: float | None = None
    generator_rss_mib: float | None = None
    sidecar_cpu: float | None = None
    service_cpu: float | None = None
    sidecar_rss_mib: float | None = None
    service_rss_mib: float | None = None
    host_steal_pct: float | None = None
    host_busy_pct: float | None = None
    host_foreign_cpu: float | None = None
    host_cpu_mhz: float | None = None
    host_flag: str = ""
    started_utc: str = ""
    histogram: str = ""  # relative to the run directory: histograms/<trial_id>.hlog

    def __post_init__(self) -> None:
        unknown = set(self.sweep) - set(DIMS)
        if unknown:
            raise ValueError(f"unknown sweep dimensions: {sorted(unknown)}; known: {list(DIMS)}")
        full = {name: self.sweep.get(name) for name in DIMS}
        object.__setattr__(self, "sweep", MappingProxyType(full))

    def values(self) -> dict[str, Any]:
        """Every column's value, in :data:`TRIAL_COLUMNS` order (the sweep as planned)."""
        return {c: self.sweep[c] if c in self.sweep else getattr(self, c) for c in TRIAL_COLUMNS}

    def to_row(self) -> dict[str, str]:
        """The ``trials.csv`` row: every column as text, in :data:`TRIAL_COLUMNS` order."""
        return {c: format_field(v) for c, v in self.values().items()}

    @classmethod
    def from_row(cls, row: Mapping[str, str | None]) -> TrialRecord:
        """A record from a ``trials.csv`` row. A missing column reads as empty (runs
        recorded before it existed); a value its column's type cannot hold raises
        :class:`FieldError`."""
        values: dict[str, Any] = {}
        for column in TRIAL_COLUMNS:
            if column in COLUMN_TYPES:
                values[column] = _PARSE[COLUMN_TYPES[column]](column, row.get(column) or "")
        sweep = {
            d.name: _parse_setting(d.name, d.stored_type, row.get(d.name) or "") for d in DIMENSIONS
        }
        return cls(sweep=sweep, **values)

    def stored_sweep(self, defaults: Mapping[str, Any]) -> dict[str, Any]:
        """This trial's cell as analysis reads it: every dimension's stored value
        (:meth:`~meshbench.config.dimensions.Dimension.from_stored`), ``defaults`` (by dimension
        name, what the scenario used) where the setting was not swept."""
        return {
            d.name: d.from_stored(format_field(self.sweep[d.name]), defaults[d.name])
            for d in DIMENSIONS
        }


def format_field(value: Any) -> str:
    """A value as ``trials.csv`` writes it: empty for None, ``true``/``false``, floats to
    six significant digits."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.6e}"
    return str(value)


def _float(column: str, text: str) -> float | None:
    value = text.strip()
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise FieldError(column, value, "a number") from None


def _int(column: str, text: str) -> int | None:
    value = text.strip()
    if not value:
        return None
    if not value.lstrip("-").isdigit():
        raise FieldError(column, value, "a whole number")
    try:
        return int(value)
    except ValueError:  # digits int() does not read (superscripts)
        raise FieldError(column, value, "a whole number") from None


def _bool(column: str, text: str) -> bool:
    value = text.strip().lower()
    if value not in ("true", "false"):
        raise FieldError(column, text, "true or false")
    return value == "true"


def _str(column: str, text: str) -> str:
    return text


def _parse_setting(name: str, stored_type: type, text: str) -> Any:
    """A planned sweep value back from its field: None where empty, numbers in the
    dimension's type, ``true``/``false`` as the bool they were written from (mTLS)."""
    if stored_type is float:
        return _float(name, text)
    if stored_type is int:
        return _int(name, text)
    return {"true": True, "false": False}.get(text, text) if text.strip() else None


_PARSE: dict[type, Callable[[str, str], Any]] = {float: _float, int: _int, bool: _bool, str: _str}


def _column_type(annotation: Any) -> type:
    """``float`` for ``float | None``, and so on."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return args[0] if args else annotation  # type: ignore[no-any-return]


COLUMN_TYPES: Mapping[str, type] = MappingProxyType(
    {
        name: _column_type(hint)
        for name, hint in typing.get_type_hints(TrialRecord).items()
        if name != "sweep"
    }
)
"""The type of every column that is not a sweep dimension: ``float``, ``int``, ``bool`` or
``str`` (the sweep columns have their :class:`~meshbench.config.dimensions.Dimension`'s)."""

_KEY = ("trial_id", "order", "mesh", "repeat", "deployment")
_MEASURED = tuple(f.name for f in fields(TrialRecord) if f.name not in (*_KEY, "sweep"))

TRIAL_COLUMNS: tuple[str, ...] = (
    "trial_id",
    "order",
    "mesh",
    DIMS[0],  # the rate
    "repeat",
    "deployment",
    *DIMS[1:],  # the other sweep dimensions (meshbench.config.dimensions)
    *_MEASURED,
)
"""Columns of ``trials.csv``, in order (the order of schema 1: old runs still read).
Sweep dimensions are empty where the plan left them unset (:attr:`TrialRecord.sweep`)."""
