"""The local platform's proofs on their failing side, without namespaces or root.

``LocalDeployment.verify()`` (sidecars present exactly where the mesh says, a probe
crossed every one) and ``check_accounting()`` (the counters account for exactly the
requests sent) are driven through fakes at their boundary: ``ip netns pids`` and the
process table, each sidecar's admin counters, and the probe command. The fake sidecar
counters move only with traffic the fake network delivers through them, so a sidecar
that traffic bypasses stays quiet, as a broken capture rule would leave it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psutil
import pytest

from meshbench.config.scenario import Scenario, parse_scenario
from meshbench.config.topology import ServiceSpec, Topology, chain
from meshbench.errors import PlatformError
from meshbench.platforms import commands
from meshbench.platforms.local import netns
from meshbench.platforms.local.deployment import LocalDeployment
from meshbench.platforms.local.envoy import INBOUND_PLAINTEXT_STAT, INBOUND_STAT, OUTBOUND_STAT
from meshbench.platforms.local.names import LOAD_POD, PROXY_UID
from meshbench.testing.contexts import offline_context

DIAMOND = Topology(
    services=(
        ServiceSpec(name="frontend", calls=("left", "right")),
        ServiceSpec(name="left", calls=("backend",)),
        ServiceSpec(name="right", calls=("backend",)),
        ServiceSpec(name="backend"),
    )
)
"""backend is reached by two paths: two requests per request to the entry."""

MINIMAL_HANDSHAKE = ("ssl.sigalgs.ecdsa_secp256r1_sha256", "ssl.versions.TLSv1.2")
"""What else Envoy counts on a handshake of the minimal sidecar: an ECDSA P-256 key, and
TLS 1.2 (Envoy's client default)."""


def rq(stat: str) -> str:
    return f"http.{stat}.downstream_rq_total"


class Network:
    """The pods of one deployment as the fakes see them: which run an Envoy, and what a
    request to the entry does to each sidecar's counters."""

    def __init__(self, dep: LocalDeployment) -> None:
        self.dep = dep
        self.envoys = set(dep.sidecar_pods())
        self.app_envoys: set[int] = set()  # pids of apps played by Envoy (server: envoy)
        self.bypass: dict[str, int] = {}  # requests per batch that skip a pod's sidecar
        self.extra: dict[str, int] = {}  # requests per batch a sidecar sees twice (retries)
        self.plaintext: dict[str, int] = {}  # requests per batch that arrive unencrypted
        self.handshakes = dep.mtls
        # counters already moved by readiness probes: only differences may count
        self.counters = {
            p: {
                rq(INBOUND_STAT): 7,
                rq(INBOUND_PLAINTEXT_STAT): 3,
                rq(OUTBOUND_STAT): 5,
                "listener.0.0.0.0_15006.ssl.handshake": 0,
            }
            for p in dep.sidecar_pods()
        }
        self.probes = 0

    def send(self, n: int) -> None:
        """``n`` requests to the entry service, through whatever sidecars they cross."""
        topo = self.dep.topology
        if LOAD_POD in self.counters:
            self.counters[LOAD_POD][rq(OUTBOUND_STAT)] += n
        for s, per_entry in topo.requests_per_entry_request().items():
            if s not in self.counters:
                continue
            seen = n * per_entry - self.bypass.get(s, 0) + self.extra.get(s, 0)
            if not self.dep.mtls:  # one inbound filter chain
                self.counters[s][rq(INBOUND_STAT)] += seen
                continue
            # mTLS: the TLS chain, and a plaintext one for the entry's unmeshed clients
            tls_hop = s != topo.entry or LOAD_POD in self.counters
            plain = self.plaintext.get(s, 0) if tls_hop else seen
            self.counters[s][rq(INBOUND_STAT)] += seen - plain
            self.counters[s][rq(INBOUND_PLAINTEXT_STAT)] += plain
            if self.handshakes and seen > plain:  # as the minimal sidecar's Envoy counts one
                listener = self.counters[s]
                for name in ("ssl.handshake", *MINIMAL_HANDSHAKE):
                    key = f"listener.0.0.0.0_15006.{name}"
                    listener[key] = listener.get(key, 0) + 1

    # -- the boundary ------------------------------------------------------------------

    def pids(self, ns: str) -> list[int]:
        pod = next(p for p, name in self.dep.netns.items() if name == ns)
        app = [] if pod == LOAD_POD else [1000 + self.dep.pods.index(pod)]
        return [*app, *([2000 + self.dep.pods.index(pod)] if pod in self.envoys else [])]

    def process(self, pid: int) -> Any:
        """Sidecars are Envoys under the proxy's uid; apps are Python, or Envoy playing
        the app (``app_envoys``) under root's."""
        sidecar = pid >= 2000
        name = "envoy" if sidecar or pid in self.app_envoys else "python3"
        uid = PROXY_UID if sidecar else 0
        uids = SimpleNamespace(real=uid, effective=uid, saved=uid)
        return SimpleNamespace(name=lambda: name, uids=lambda: uids)

    def run(self, argv: Sequence[str], **_kw: Any) -> subprocess.CompletedProcess[str]:
        assert "meshbench.platforms.local.probe" in argv, argv  # nothing else may run
        assert argv[-1] == self.dep.target_url()
        self.probes += 1
        self.send(1)
        return subprocess.CompletedProcess(list(argv), 0, "", "")


class FakeAdmin:
    def __init__(self, net: Network, pod: str) -> None:
        self.net, self.pod = net, pod

    def counters(self) -> dict[str, int]:
        return {**self.net.counters[self.pod], "runtime.load_success": 1}


def deployment(
    tmp_path: Path, mesh: str, topology: Topology | None = None, client_sidecar: bool = False
) -> tuple[LocalDeployment, Network]:
    sc: Scenario = parse_scenario(
        {
            "name": "crossing",
            "meshes": ["none", "envoy", "envoy-mtls"],
            "client_sidecar": client_sidecar,
            "load": {"rates_rps": [100], "duration_s": 1},
        }
    )
    context = offline_context(sc, tmp_path)  # no platform: no root, no namespaces
    dep = LocalDeployment(context, mesh, topology or chain(3), index=0)
    net = Network(dep)
    dep.admins = {p: FakeAdmin(net, p) for p in dep.sidecar_pods()}  # type: ignore[misc]
    return dep, net


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> Any:
    def connect(net: Network) -> Network:
        monkeypatch.setattr(netns, "pids", net.pids)
        monkeypatch.setattr(psutil, "Process", net.process)
        monkeypatch.setattr(commands, "run", net.run)
        return net

    return connect


# -- verify() ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mesh", "client_sidecar", "topology"),
    [
        ("envoy", False, None),
        ("envoy", True, None),
        ("envoy-mtls", False, None),
        ("envoy-mtls", True, None),
        ("envoy", False, DIAMOND),
    ],
)
def test_verify_passes_when_every_sidecar_is_crossed(
    tmp_path: Path, wire: Any, mesh: str, client_sidecar: bool, topology: Topology | None
) -> None:
    dep, net = deployment(tmp_path, mesh, topology, client_sidecar)
    wire(net)
    proof = dep.verify()
    assert proof.crossed_sidecars and net.probes == 1
    assert proof.sidecars == {p: p in dep.sidecar_pods() for p in dep.pods}
    assert proof.sidecars[LOAD_POD] is client_sidecar
    if mesh == "envoy-mtls":
        assert sum(proof.details["tls_handshakes"].values()) > 0


def test_verify_without_a_mesh_checks_absence_and_sends_nothing(tmp_path: Path, wire: Any) -> None:
    dep, net = deployment(tmp_path, "none")
    wire(net)
    proof = dep.verify()
    assert not proof.crossed_sidecars and not any(proof.sidecars.values())
    assert net.probes == 0


@pytest.mark.parametrize("mesh", ["none", "envoy"])
def test_an_envoy_playing_the_app_is_not_a_sidecar(tmp_path: Path, wire: Any, mesh: str) -> None:
    """server: envoy runs an Envoy as the backend's app, under the app's uid: the baseline
    still has no sidecar there, and a meshed backend still has exactly one."""
    dep, net = deployment(tmp_path, mesh)
    net.app_envoys = {1000 + dep.pods.index("backend")}
    wire(net)
    proof = dep.verify()
    assert proof.sidecars == {p: p in dep.sidecar_pods() for p in dep.pods}


@pytest.mark.parametrize(
    ("mesh", "client_sidecar", "flip", "wrong"),
    [
        ("envoy", False, "middle", "['middle']"),  # a sidecar missing
        ("envoy", True, LOAD_POD, "['load']"),  # the client sidecar missing
        ("envoy", False, LOAD_POD, "['load']"),  # a client sidecar nobody asked for
        ("none", False, "backend", "['backend']"),  # an Envoy in the baseline
    ],
)
def test_verify_refuses_sidecars_in_the_wrong_pods(
    tmp_path: Path, wire: Any, mesh: str, client_sidecar: bool, flip: str, wrong: str
) -> None:
    dep, net = deployment(tmp_path, mesh, client_sidecar=client_sidecar)
    net.envoys ^= {flip}
    wire(net)
    with pytest.raises(PlatformError, match=rf"sidecar presence is wrong for pods \{wrong}"):
        dep.verify()
    assert net.probes == 0


@pytest.mark.parametrize(
    ("mesh", "topology", "quiet", "bypass"),
    [
        ("envoy", None, ["middle"], 1),
        ("envoy", None, ["frontend", "middle", "backend"], 1),
        ("envoy-mtls", None, ["backend"], 1),
        ("envoy", DIAMOND, ["backend"], 1),  # one of its two requests went around it
    ],
)
def test_verify_names_a_quiet_sidecar(
    tmp_path: Path, wire: Any, mesh: str, topology: Topology | None, quiet: list[str], bypass: int
) -> None:
    dep, net = deployment(tmp_path, mesh, topology)
    net.bypass = dict.fromkeys(quiet, bypass)
    wire(net)
    with pytest.raises(PlatformError, match="did not cross the sidecars of") as e:
        dep.verify()
    assert f"of {quiet}" in str(e.value)


def test_verify_under_mtls_needs_a_handshake(tmp_path: Path, wire: Any) -> None:
    dep, net = deployment(tmp_path, "envoy-mtls")
    net.handshakes = False
    wire(net)
    with pytest.raises(PlatformError, match="no TLS handshake counted by any sidecar"):
        dep.verify()


def test_verify_reports_an_unreachable_target(
    tmp_path: Path, wire: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    dep, net = deployment(tmp_path, "envoy")
    wire(net)
    monkeypatch.setattr(
        commands,
        "run",
        lambda argv, **_kw: subprocess.CompletedProcess(
            list(argv), 1, "", "frontend: connection refused\n"
        ),
    )
    with pytest.raises(PlatformError, match=r"not reachable from the load pod.*connection refused"):
        dep.verify()


# -- check_accounting() ----------------------------------------------------------------

SENT = 100

# (id, mesh, topology, client sidecar, network faults, expected problems)
ACCOUNTING: list[tuple[str, str, Topology | None, bool, dict[str, dict[str, int]], list[str]]] = [
    ("chain-exact", "envoy", None, False, {}, []),
    (
        "one-missing",
        "envoy",
        None,
        False,
        {"bypass": {"middle": 1}},
        ["middle sidecar saw 99 inbound requests, expected 100"],
    ),
    (
        "one-extra",
        "envoy",
        None,
        False,
        {"extra": {"backend": 1}},
        ["backend sidecar saw 101 inbound requests, expected 100"],
    ),
    (
        "two-wrong",
        "envoy",
        None,
        False,
        {"bypass": {"frontend": SENT, "backend": 2}},
        [
            "frontend sidecar saw 0 inbound requests, expected 100",
            "backend sidecar saw 98 inbound requests, expected 100",
        ],
    ),
    ("diamond-exact", "envoy", DIAMOND, False, {}, []),
    (
        "diamond-one-path",
        "envoy",
        DIAMOND,
        False,
        {"bypass": {"backend": SENT}},
        ["backend sidecar saw 100 inbound requests, expected 200"],
    ),
    ("mtls-exact", "envoy-mtls", None, False, {}, []),
    (
        "mtls-plaintext-inside",
        "envoy-mtls",
        None,
        False,
        {"plaintext": {"middle": 3}},
        ["middle sidecar took 3 plaintext requests under mTLS"],
    ),
    (
        "mtls-plaintext-and-short",
        "envoy-mtls",
        None,
        False,
        {"plaintext": {"backend": 2}, "bypass": {"backend": 1}},
        [
            "backend sidecar saw 99 inbound requests, expected 100",
            "backend sidecar took 2 plaintext requests under mTLS",
        ],
    ),
    ("client-sidecar-exact", "envoy", None, True, {}, []),
    ("client-sidecar-exact-mtls", "envoy-mtls", None, True, {}, []),
    (
        "client-sidecar-short",
        "envoy",
        None,
        True,
        {"load_outbound": {"": -1}},
        ["load pod sidecar sent 99 requests, expected 100"],
    ),
    ("no-mesh", "none", None, False, {}, []),
]


@pytest.mark.parametrize(
    ("mesh", "topology", "client_sidecar", "faults", "expected"),
    [a[1:] for a in ACCOUNTING],
    ids=[a[0] for a in ACCOUNTING],
)
def test_accounting_says_no_to_any_request_not_accounted_for(
    tmp_path: Path,
    mesh: str,
    topology: Topology | None,
    client_sidecar: bool,
    faults: dict[str, dict[str, int]],
    expected: list[str],
) -> None:
    dep, net = deployment(tmp_path, mesh, topology, client_sidecar)
    net.bypass = faults.get("bypass", {})
    net.extra = faults.get("extra", {})
    net.plaintext = faults.get("plaintext", {})
    before = dep.sidecar_stats() if dep.sidecars else {}
    net.send(SENT)
    if "load_outbound" in faults:
        net.counters[LOAD_POD][rq(OUTBOUND_STAT)] += faults["load_outbound"][""]
    after = dep.sidecar_stats() if dep.sidecars else {}
    assert dep.check_accounting(before, after, SENT) == expected


def test_accounting_counts_only_what_moved_during_the_trial(tmp_path: Path) -> None:
    """Counters that were already high before the trial (the proof's probe, earlier
    trials) must not count: only the difference is this trial's traffic."""
    dep, net = deployment(tmp_path, "envoy")
    net.send(40)  # an earlier trial
    before = dep.sidecar_stats()
    net.send(SENT)
    assert dep.check_accounting(before, dep.sidecar_stats(), SENT) == []
    assert dep.check_accounting(before, dep.sidecar_stats(), SENT + 40) == [
        f"{s} sidecar saw 100 inbound requests, expected 140" for s in dep.services
    ]


def test_sidecar_stats_keep_only_the_counters_accounting_reads(tmp_path: Path) -> None:
    dep, _ = deployment(tmp_path, "envoy")
    stats = dep.sidecar_stats()
    assert set(stats) == {"frontend", "middle", "backend"}
    assert stats["middle"][rq(INBOUND_STAT)] == 7
    assert "runtime.load_success" not in stats["middle"]
