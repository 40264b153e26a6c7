"""Declarative benchmark scenarios: YAML in, a validated, frozen :class:`Scenario` out.

Validation errors name the file, the field, the bad value and what is allowed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from meshbench.config.dimensions import AA_CONTROL, BASELINE, VARIANT_DIMS
from meshbench.config.features import MINIMAL
from meshbench.config.meshes import PLATFORMS, mesh_decl, mesh_names
from meshbench.config.platform_settings import KindSpec, LocalSpec
from meshbench.config.protocols import PROTOCOLS, Protocol
from meshbench.config.settings_model import SettingsModel as _Model
from meshbench.config.topology import Topology, chain
from meshbench.errors import ScenarioError

MESH_NAMES: dict[str, tuple[str, ...]] = {p: mesh_names(p) for p in PLATFORMS}
"""Mesh names each platform understands (the baseline everywhere), from
:data:`~meshbench.config.meshes.MESH_DECLS`."""


MAX_TRIALS = 100_000
"""Most trials a scenario may plan (the sweep multiplies: arms x rates x repeats x each
swept list). Far beyond any run that finishes; it keeps planning itself bounded."""


class LoadSpec(_Model):
    """How the open-loop generator drives the entry service."""

    rates_rps: tuple[float, ...] = Field(min_length=1, description="target request rates")
    duration_s: float = Field(gt=0, le=3600, description="measured part of each trial")
    warmup_s: float = Field(default=5.0, ge=0, le=600, description="recorded, tagged, excluded")
    connections: int = Field(
        default=16, ge=1, le=4096, description="concurrent connections (Locust users)"
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="generator processes sharing the schedule, one per CPU of local.load_cpus",
    )
    schedule: Literal["constant", "poisson"] = "constant"
    path: str = Field(default="/", pattern=r"^/")
    timeout_s: float = Field(default=5.0, gt=0, le=120, description="per-request timeout")

    @field_validator("rates_rps")
    @classmethod
    def _rates_positive(cls, rates: tuple[float, ...]) -> tuple[float, ...]:
        bad = [r for r in rates if not 0 < r <= 1_000_000]
        if bad:
            raise ValueError(f"every rate must be > 0 and <= 1000000 rps; got {bad}")
        return rates


class SweepSpec(_Model):
    """Extra dimensions swept in every mesh and rate (each list replaces the single value)."""

    connections: tuple[int, ...] | None = Field(
        default=None, min_length=1, description="replaces load.connections"
    )
    payload_bytes: tuple[int, ...] | None = Field(
        default=None, min_length=1, description="response size of every service"
    )
    depth: tuple[int, ...] | None = Field(
        default=None,
        min_length=1,
        description="call-chain depth: replaces the topology with a chain of 1..N services",
    )
    mtls: tuple[bool, ...] | None = Field(
        default=None,
        min_length=1,
        description="kind only; on the local platform list the meshes envoy and envoy-mtls",
    )
    protocol: tuple[Protocol, ...] | None = Field(
        default=None, min_length=1, description="replaces topology.protocol: http1, h2c, grpc"
    )
    requests_per_connection: tuple[int, ...] | None = Field(
        default=None,
        min_length=1,
        description="replaces topology.requests_per_connection: 0 keep-alive, N a new "
        "connection every N requests",
    )

    @model_validator(mode="after")
    def _ranges(self) -> SweepSpec:
        for name, lo, hi in (
            ("connections", 1, 4096),
            ("payload_bytes", 0, 16 * 2**20),
            ("depth", 1, 10),
            ("requests_per_connection", 0, 1_000_000),
        ):
            values = getattr(self, name) or ()
            bad = [v for v in values if not lo <= v <= hi]
            if bad:
                raise ValueError(f"sweep.{name} values must be in [{lo}, {hi}]; got {bad}")
            if len(set(values)) != len(values):
                raise ValueError(f"sweep.{name} has repeated values: {list(values)}")
        protocols = self.protocol or ()
        if len(set(protocols)) != len(protocols):
            raise ValueError(f"sweep.protocol has repeated values: {list(protocols)}")
        return self


class SloSpec(_Model):
    """A latency budget the verdict is checked against (read by meshbench.analysis)."""

    percentile: float = Field(
        default=99.0, gt=0, le=100, description="e.g. 99 for p99, 99.9 for p99.9; 100 = max"
    )
    budget_ms: float = Field(
        gt=0, le=600_000, description="end-to-end latency budget at that percentile, in ms"
    )


class AnalysisSpec(_Model):
    """How the report turns measurements into verdicts (read by meshbench.analysis).

    A difference is *meaningful* when it exceeds both ``min_effect_ms`` and
    ``min_effect_pct`` of the baseline at that percentile; an interval inside that band
    is "no meaningful change", one that straddles 0 and the band is "inconclusive".
    """

    min_effect_ms: float = Field(
        default=0.1,
        ge=0,
        le=60_000,
        description="smallest overhead worth acting on, in ms (default 0.1 ms)",
    )
    min_effect_pct: float = Field(
        default=5.0,
        ge=0,
        le=1000,
        description="smallest overhead worth acting on, in % of the baseline (default 5 %)",
    )
    primary: tuple[float, ...] | None = Field(
        default=None,
        description="percentiles that get a verdict (Holm-adjusted across meshes and cells); "
        "default: 50 and the slo percentile, or 50 and 99 without an slo",
    )
    confidence: float = Field(default=0.95, ge=0.5, lt=1, description="interval coverage")

    @model_validator(mode="after")
    def _primary_in_range(self) -> AnalysisSpec:
        bad = [q for q in self.primary or () if not 0 < q < 100]
        if bad:
            raise ValueError(
                f"analysis.primary percentiles must be in (0, 100) (max is descriptive only); "
                f"got {bad}"
            )
        return self


class ValiditySpec(_Model):
    """When a trial is stored as ``valid=false`` (never silently reported)."""

    max_send_lag_p99_ms: float = Field(
        default=5.0, gt=0, description="generator fell behind its schedule beyond this"
    )
    max_generator_cpu: float = Field(
        default=0.95, gt=0, le=64, description="generator CPU in cores (1.0 = one full core)"
    )
    max_error_ratio: float = Field(default=0.0, ge=0, le=1, description="errors / requests")
    min_achieved_ratio: float = Field(
        default=0.95, gt=0, le=1, description="achieved rps / target rps"
    )
    flag_steal_pct: float = Field(
        default=5.0,
        ge=0,
        le=100,
        description="flag (not invalidate) a trial whose pinned CPUs lost more than this "
        "share of time to the hypervisor (CPU steal, %)",
    )
    flag_foreign_cpu: float = Field(
        default=0.2,
        ge=0,
        le=1024,
        description="flag (not invalidate) a trial during which processes other than "
        "meshbench's used more than this many cores",
    )


class AttributionSpec(_Model):
    """Where the overhead goes (local platform): every pod's boundary captured with a kernel
    clock, every request followed through it by its id (README, "Where the overhead goes")."""

    enabled: bool = Field(default=False, description="capture and attribute (off by default)")
    observer: bool = Field(
        default=True,
        description="also run every arm without capture, interleaved in the same repeats, to "
        "measure what capturing itself changes (the observer effect)",
    )
    keep_captures: Literal["none", "compressed"] = Field(
        default="none",
        description="none: captures are removed once read; compressed: kept gzipped under "
        "RUN/captures (about 1 kB per request per pod, before compression)",
    )


class Scenario(_Model):
    """A whole benchmark: what to deploy, which meshes, which loads, how often."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    description: str = ""
    platform: Literal["local", "kind"] = "local"
    meshes: tuple[str, ...] = Field(min_length=1)
    client_sidecar: bool = Field(
        default=False, description="put a sidecar in the load generator's pod too"
    )
    topology: Topology = Field(default_factory=lambda: chain(3))
    load: LoadSpec
    sweep: SweepSpec = Field(default_factory=SweepSpec)
    aa_control: bool = Field(
        default=False,
        description="add a second baseline arm 'none-aa' deployed like 'none': its difference "
        "from 'none' shows the noise floor of the run",
    )
    repeats: int = Field(default=3, ge=1, le=1000)
    deployments: int = Field(
        default=1,
        ge=1,
        le=1000,
        description="fresh deployments of every mesh within the run: the repeats are split "
        "into this many consecutive groups and every arm is deployed anew for each group, so "
        "the interval covers what is fixed for a deployment's life (local platform only)",
    )
    seed: int = Field(default=1, ge=0, description="seeds the trial order; recorded")
    validity: ValiditySpec = Field(default_factory=ValiditySpec)
    slo: SloSpec | None = Field(
        default=None,
        description="latency budget: pass/fail per mesh and rate, overhead as % of it",
    )
    analysis: AnalysisSpec = Field(default_factory=AnalysisSpec)
    attribution: AttributionSpec = Field(
        default_factory=AttributionSpec,
        description="where the overhead goes: true, or {enabled, observer, keep_captures}",
    )
    local: LocalSpec = Field(default_factory=LocalSpec)
    kind: KindSpec = Field(default_factory=KindSpec)

    @field_validator("attribution", mode="before")
    @classmethod
    def _attribution_shorthand(cls, value: Any) -> Any:
        """``attribution: true`` (or false) for the defaults."""
        return {"enabled": value} if isinstance(value, bool) else value

    @field_validator("meshes")
    @classmethod
    def _known_unique_meshes(cls, meshes: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        """Reported on ``meshes`` itself (``platform`` is validated before it)."""
        platform = info.data.get("platform", "local")
        allowed = MESH_NAMES[platform]
        bad = [m for m in meshes if m not in allowed]
        if bad:
            raise ValueError(
                f"meshes {bad} are not available on platform {platform!r}; allowed: {list(allowed)}"
            )
        dupes = sorted({m for m in meshes if meshes.count(m) > 1})
        if dupes:
            raise ValueError(f"meshes must be unique; repeated: {dupes}")
        return meshes

    @model_validator(mode="after")
    def _check_meshes(self) -> Scenario:
        if self.deployments > self.repeats:
            raise ValueError(
                f"deployments ({self.deployments}) cannot exceed repeats ({self.repeats}): "
                "each deployment needs at least one repeat"
            )
        if self.deployments > 1 and self.platform != "local":
            raise ValueError(
                "deployments > 1 is only implemented for the local platform; on kind each "
                "mesh install is one deployment (set deployments: 1)"
            )
        protocols = self.sweep.protocol or (self.topology.protocol,)
        needs_h2 = sorted({p for p in protocols if PROTOCOLS[p].app_wire != "http1"})
        if self.local.sidecar_protocol == "http1" and needs_h2:
            raise ValueError(
                f"local.sidecar_protocol: http1 cannot carry {needs_h2} "
                "apps (gRPC and h2c need HTTP/2 end to end): use auto or h2"
            )
        if self.sweep.payload_bytes is not None and any(
            s.payload_mix for s in self.topology.services
        ):
            raise ValueError(
                "sweep.payload_bytes replaces every service's payload, but some services have "
                "a payload_mix: remove one of the two"
            )
        if self.aa_control and BASELINE not in self.meshes:
            raise ValueError(
                f"aa_control: true adds a second {BASELINE!r} arm to compare with "
                f"{BASELINE!r}, but meshes {list(self.meshes)} have no {BASELINE!r}: add "
                f"{BASELINE!r} to meshes, or set aa_control: false"
            )
        if self.sweep.mtls is not None and self.platform == "local":
            raise ValueError(
                "sweep.mtls is for the kind platform; on local list the meshes envoy and envoy-mtls"
            )
        envoys = [s.name for s in self.topology.services if s.server == "envoy"]
        if envoys and self.platform != "local":
            raise ValueError(
                f"services {envoys} have server: envoy, which runs on the local platform only "
                "(the kind image carries no Envoy); fix: server: python, or platform: local"
            )
        if self.attribution.enabled:
            self._check_attribution()
        factors = {
            "arms": len(self.arms),
            "load.rates_rps": len(self.load.rates_rps),
            "repeats": self.repeats,
        }
        for name in VARIANT_DIMS:  # each swept list multiplies the plan
            if name in SweepSpec.model_fields:
                factors[f"sweep.{name}"] = len(getattr(self.sweep, name) or (None,))
        if self.attribution.enabled and self.attribution.observer:
            factors["attribution.observer"] = 2
        trials = math.prod(factors.values())
        if trials > MAX_TRIALS:
            shown = " x ".join(f"{n} {k}" for k, n in factors.items() if n > 1)
            raise ValueError(
                f"the plan has {trials:,} trials ({shown}); the most allowed is "
                f"{MAX_TRIALS:,}: sweep fewer values or repeat less"
            )
        return self

    def _check_attribution(self) -> None:
        """What attribution can follow: a chain (each service calls at most one other),
        on the local platform, with the generator outside the mesh."""
        if self.platform != "local":
            raise ValueError(
                "attribution runs on the local platform only (it captures every pod's "
                "interfaces); fix: set platform: local or attribution: false"
            )
        fanout = [s.name for s in self.topology.services if len(s.calls) > 1]
        if fanout:
            raise ValueError(
                f"attribution follows a request down a chain; services {fanout} call several "
                "services at once; fix: use a chain (each service calls at most one other)"
            )
        if self.client_sidecar:
            raise ValueError(
                "attribution needs the load generator outside the mesh; fix: set "
                "client_sidecar: false"
            )
        featured = [m for m in self.meshes if mesh_decl(m).features != MINIMAL]
        if featured:
            raise ValueError(
                f"attribution follows requests through minimal sidecars; meshes {featured} "
                "add sidecar features (an L4 sidecar has no per-request log to follow); fix: "
                "measure them without attribution, or attribute envoy and envoy-mtls"
            )

    @property
    def arms(self) -> tuple[str, ...]:
        """The meshes measured, plus the A/A control arm when asked for."""
        extra = (AA_CONTROL,) if self.aa_control and BASELINE in self.meshes else ()
        return (*self.meshes, *extra)

    def topology_for(
        self,
        depth: int | None,
        payload_bytes: int | None,
        protocol: Protocol | None = None,
        requests_per_connection: int | None = None,
    ) -> Topology:
        """The topology of one sweep cell (the scenario's own when nothing is swept). A
        swept depth is a chain of services that behave like the entry."""
        topology = self.topology
        if depth is not None:
            entry = topology.service(topology.entry)
            behaviour = {
                k: getattr(entry, k) for k in type(entry).model_fields if k not in ("name", "calls")
            }
            chained = chain(depth)
            services = tuple(s.model_copy(update=behaviour) for s in chained.services)
            topology = topology.model_copy(update={"entry": chained.entry, "services": services})
        if payload_bytes is not None:
            services = tuple(
                s.model_copy(update={"payload_bytes": payload_bytes}) for s in topology.services
            )
            topology = topology.model_copy(update={"services": services})
        update: dict[str, object] = {}
        if protocol is not None:
            update["protocol"] = protocol
        if requests_per_connection is not None:
            update["requests_per_connection"] = requests_per_connection
        return topology.model_copy(update=update) if update else topology

    @property
    def has_baseline(self) -> bool:
        """Whether the run includes the ``none`` baseline that overheads are measured against."""
        return BASELINE in self.meshes


def _describe(error: ValidationError, source: str) -> str:
    lines = []
    for e in error.errors():
        field = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            lines.append(f"{source}: {field}: unknown field (check the spelling)")
        elif e["type"] == "missing":
            lines.append(f"{source}: {field}: required field is missing")
        elif isinstance(e.get("input"), dict):  # a check of a whole section names its fields
            lines.append(f"{source}: {field + ': ' if e['loc'] else ''}{msg}")
        else:
            lines.append(f"{source}: {field}: {_shown(e.get('input'))} is invalid: {msg}")
    return "; ".join(lines)


SHOWN_CHARS = 80
"""An invalid value longer than this is summarised in an error, not printed whole."""


def _shown(value: Any) -> str:
    """``value`` for a one-line error: its repr, or what it is when that is long
    (a list of 65 services is "a list of 65 items", not 3 kB of text)."""
    text = repr(value)
    if len(text) <= SHOWN_CHARS:
        return text
    if isinstance(value, list | tuple):
        return f"a list of {len(value)} items"
    if isinstance(value, dict):
        keys = ", ".join(map(str, list(value)[:5])) + (", ..." if len(value) > 5 else "")
        return f"a mapping of {len(value)} keys ({keys})"
    return text[: SHOWN_CHARS - 3] + "..."


def parse_scenario(data: Any, source: str = "<scenario>") -> Scenario:
    """Validate an already-parsed mapping; errors name ``source``, the field and the value."""
    if not isinstance(data, dict):
        raise ScenarioError(
            f"{source}: a scenario must be a YAML mapping, got {type(data).__name__}",
            fix="start from scenarios/default.yaml",
        )
    try:
        return Scenario.model_validate(data)
    except ValidationError as e:
        raise ScenarioError(_describe(e, source), fix="see scenarios/default.yaml") from None


MAX_SCENARIO_BYTES = 1 << 20
"""A scenario is a page of YAML; anything bigger (or endless, like /dev/zero) is refused."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML that refuses a key given twice (a second ``load:`` silently replaced the
    first one, turning 200 rps into 5000)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file (UTF-8, a regular file of at most
    :data:`MAX_SCENARIO_BYTES`, no duplicate keys)."""
    p = Path(path)
    fix = "pass a path like scenarios/default.yaml"
    try:
        if not p.exists():
            raise ScenarioError(f"cannot read scenario {p}: no such file", fix=fix)
        if not p.is_file():
            raise ScenarioError(f"scenario {p} is not a regular file", fix=fix)
        with p.open("rb") as f:
            raw = f.read(MAX_SCENARIO_BYTES + 1)
    except OSError as e:
        raise ScenarioError(f"cannot read scenario {p}: {e.strerror}", fix=fix) from None
    if len(raw) > MAX_SCENARIO_BYTES:
        raise ScenarioError(f"{p}: larger than {MAX_SCENARIO_BYTES} bytes; not a scenario", fix=fix)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ScenarioError(
            f"{p}: not UTF-8 text (byte {e.start})", fix="save the scenario as UTF-8"
        ) from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as e:
        raise ScenarioError(f"{p}: not valid YAML: {e}", fix="check the indentation") from None
    except RecursionError:
        raise ScenarioError(f"{p}: nested too deeply to be a scenario", fix=fix) from None
    return parse_scenario(data, str(p))
