"""One deployment of a mesh on the local platform: its pods (network namespaces), its
sidecars and apps, how it is probed and proven, and what its counters account for.

A deployment is given a :class:`LocalContext` (what it needs of the run, built by
:class:`~meshbench.platforms.local.platform.LocalPlatform`), never the platform itself.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from meshbench.config.features import MINIMAL
from meshbench.config.meshes import mesh_decl, meshes_on
from meshbench.config.protocols import PROTOCOLS
from meshbench.config.scenario import Scenario
from meshbench.config.topology import Topology
from meshbench.errors import MeshbenchError, PlatformError
from meshbench.host.pinning import Pinning
from meshbench.load.spec import HLOG_FILE, LoadRequest, LoadSummary, measured_ids
from meshbench.load.workers import START_DELAY_S, run_workers
from meshbench.platforms import commands
from meshbench.platforms.base import Deployment, Proof, UsageSnapshot
from meshbench.platforms.local import capture, netns
from meshbench.platforms.local.admin import EnvoyAdmin
from meshbench.platforms.local.attribute import Observed, attribute, keep_compressed
from meshbench.platforms.local.envoy import (
    INBOUND_PLAINTEXT_STAT,
    OUTBOUND_STAT,
    Observation,
    bootstrap,
    envoy_binary,
)
from meshbench.platforms.local.feature_proof import (
    config_evidence,
    delta,
    feature_evidence,
    inbound_bytes,
    inbound_requests,
)
from meshbench.platforms.local.mtls import CertificateAuthority
from meshbench.platforms.local.names import (
    LOAD_POD,
    OUTBOUND_PORT,
    PROXY_UID,
    netns_name,
    pod_address,
)
from meshbench.platforms.local.phase_usage import PhaseWindow, took_origin
from meshbench.platforms.local.pod_capture import PodCaptures
from meshbench.platforms.local.procs import ProcessSet, wrap
from meshbench.platforms.local.timeline import SIDECAR_COUNTERS, Timeline
from meshbench.service.app import service_args
from meshbench.service.http1 import HEALTH_PATH
from meshbench.service.probe import probe_url
from meshbench.wire.hops import Pod

READY_DEADLINE_S = 30.0
KEY_LOG = "keys.log"
"""A sidecar's TLS secrets in attribution mode (SSLKEYLOGFILE lines)."""
SIDECAR_MESHES = tuple(d.name for d in meshes_on("local") if d.data_plane == "sidecar")
"""The local meshes that put an Envoy sidecar beside every service."""
KEPT_STAT_PREFIXES = (
    "http.",
    "listener.0.0.0.0_",
    "cluster.outbound_passthrough.",
    "cluster.inbound_app.",
    "server.",
    "tcp.",  # L4 sidecars' proxies
    "filesystem.",  # access-log writes
)


@dataclass(frozen=True)
class LocalContext:
    """What a local deployment needs of the run it belongs to (built by the platform)."""

    scenario: Scenario
    run_key: str
    """Names the run's network namespaces (:func:`~meshbench.platforms.local.names.netns_name`)."""
    hub: str
    """The bridge namespace every pod is wired to (up before a deployment is made)."""
    state_dir: Path
    """The run's state directory: each deployment's files under its own name in it."""
    pinning: Pinning
    process_env: dict[str, str]
    """The environment of every process started (it carries the run key)."""
    logs_dest: Path | None = None
    """Where the run will keep the logs (``RUN/logs``); None: where they are written."""

    def log_hint(self, path: Path) -> str:
        """Where a log under the state directory will be kept once the run ends."""
        if self.logs_dest is None:
            return str(path)
        try:
            return str(self.logs_dest / path.relative_to(self.state_dir))
        except ValueError:
            return str(path)


class LocalDeployment(Deployment):
    """One mesh's pods: namespaces, apps, sidecars, and the load generator's pod."""

    def __init__(
        self,
        context: LocalContext,
        mesh: str,
        topology: Topology,
        index: int,
        copy: int = 1,
        name: str | None = None,
        capture: bool = False,
    ) -> None:
        self.context = context
        self.scenario = context.scenario
        self.mesh = mesh
        self.mesh_index = index
        self.procs = ProcessSet(context.process_env)
        self.topology = topology
        self.services = [s.name for s in self.topology.reachable()]
        self.pods = [LOAD_POD, *self.services]
        # a mesh is deployed once per sweep variant: the second one is "<mesh>-2", ...
        self.label = mesh if copy == 1 else f"{mesh}-{copy}"
        self.netns = {p: netns_name(context.run_key, self.label, p) for p in self.pods}
        self.address = {p: pod_address(index, i) for i, p in enumerate(self.pods)}
        # named as the run names the deployment (its logs are kept under that name)
        self.state_dir = context.state_dir / (name or self.label)
        self.sidecars = mesh in SIDECAR_MESHES
        decl = mesh_decl(mesh)
        self.mtls = decl.mtls_always_on
        self.features = decl.features
        self.admins: dict[str, EnvoyAdmin] = {}
        self.created: list[str] = []
        self._measured: tuple[UsageSnapshot, UsageSnapshot] | None = None
        # attribution mode: every pod captured for the deployment's whole life
        self.captures = (
            PodCaptures(self.procs, self.state_dir, context.pinning.load_cpus) if capture else None
        )
        self._observed: list[Observed] = []

    # -- lifecycle -----------------------------------------------------------------

    def sidecar_pods(self) -> list[str]:
        if not self.sidecars:
            return []
        return [*([LOAD_POD] if self.scenario.client_sidecar else []), *self.services]

    def up(self) -> None:
        hub = self.context.hub
        first_index = self.mesh_index * 250 + 1  # veth names stay unique across deployments
        for i, pod in enumerate(self.pods):
            ns = self.netns[pod]
            self.created.append(ns)
            netns.add_pod(hub, ns, first_index + i, self.address[pod])
        if self.captures is not None:  # before any process: every connection from its start
            self.captures.start(self.netns)
        ca = (
            CertificateAuthority(f"meshbench {self.mesh} CA", self.features.cert_key)
            if self.mtls
            else None
        )
        self.ca = ca  # kept so a test can present identities the mesh must refuse
        for pod in self.sidecar_pods():
            self._start_sidecar(pod, ca)
        for name in self.services:
            self._start_app(name)
        deadline = time.monotonic() + READY_DEADLINE_S
        for pod, admin in self.admins.items():
            self._check_alive()
            admin.wait_ready(
                deadline,
                f"{self.mesh}/{pod}",
                self.context.log_hint(self.state_dir / pod / "sidecar"),
            )
        # with mTLS only the entry answers a client without a sidecar; the target URL,
        # whose request crosses every hop, proves the others
        probed = [self.topology.entry] if self.mtls else self.services
        urls = [self._probe_url(s, HEALTH_PATH) for s in probed]
        self.probe([*urls, self._probe_target()], max(1.0, deadline - time.monotonic()))

    def down(self) -> None:
        self.procs.stop_all()  # sidecars flush their key and access logs; captures end
        try:
            self._attribute()
        finally:
            for ns in reversed(self.created):
                netns.delete(ns)
            self.created.clear()

    def _attribute(self) -> None:
        """Each captured trial's per-request times at every pod's boundaries (attribution
        mode); the captures then removed, or kept gzipped as the scenario says."""
        if self.captures is None:
            return
        pods = [
            Pod(p, self.address[p], path, self.topology.port, OUTBOUND_PORT)
            for p, path in self.captures.files.items()
        ]
        key_logs = [self.state_dir / p / "sidecar" / KEY_LOG for p in self.sidecar_pods()]
        access = {
            p: sorted((self.state_dir / p / "sidecar").glob("*.log")) for p in self.sidecar_pods()
        }
        access = {p: [f for f in fs if f.name != "envoy.log"] for p, fs in access.items()}
        stats = self.captures.stats()
        for observed in self._observed:
            attribute(
                observed,
                pods,
                self.pods,
                {p: p in self.sidecar_pods() for p in self.pods},
                key_logs,
                access,
                stats,
            )
        if self.scenario.attribution.keep_captures == "compressed" and self.context.logs_dest:
            run_dir = self.context.logs_dest.parent
            keep_compressed(self.captures.files, run_dir / "captures" / self.state_dir.name)
        for path in self.captures.files.values():
            path.unlink(missing_ok=True)
        self._observed.clear()

    def _start_sidecar(self, pod: str, ca: CertificateAuthority | None) -> None:
        d = self.state_dir / pod / "sidecar"
        d.mkdir(parents=True, exist_ok=True)
        tls = ca.write_identity(d / "tls", self.mesh, pod) if ca else None
        admin_socket = d / "admin.sock"
        app_port = None if pod == LOAD_POD else self.topology.port
        cfg = d / "envoy.json"
        # plaintext only where a client without a sidecar enters the mesh (PERMISSIVE)
        plaintext = pod == self.topology.entry and not self.scenario.client_sidecar
        protocol = self.topology.protocol
        observe = Observation(d / KEY_LOG, d) if self.captures is not None else None
        config = bootstrap(
            pod,
            self.mesh,
            app_port,
            admin_socket,
            tls,
            observe=observe,
            inbound_delay_ms=self.scenario.local.sidecar_inbound_delay_ms.get(pod, 0.0),
            accept_plaintext=plaintext,
            sidecar_protocol=(
                self.scenario.local.sidecar_wire(protocol)
                if self.features.sidecar_wire == "auto"
                else self.features.sidecar_wire
            ),
            app_protocol=PROTOCOLS[protocol].app_wire,
            sidecar_requests_per_connection=self.scenario.local.sidecar_requests_per_connection,
            features=self.features,
            access_log_dir=d / "access-log",
        )
        cfg.write_text(json.dumps(config, indent=1))
        if self.features.access_log:
            (d / "access-log").mkdir(exist_ok=True)
        for path in [d, *d.rglob("*")]:
            os.chown(path, PROXY_UID, PROXY_UID)
        rules = capture.nat_rules(capture_inbound=pod != LOAD_POD)
        commands.run([*netns.exec_prefix(self.netns[pod]), "iptables-restore"], input_text=rules)
        local = self.scenario.local
        argv = [
            envoy_binary(),
            "-c",
            str(cfg),
            "--concurrency",
            str(local.envoy_concurrency),
            "--log-level",
            local.envoy_log_level,
            "--disable-hot-restart",
            "--use-dynamic-base-id",
        ]
        self.procs.start(
            pod,
            "sidecar",
            wrap(self.netns[pod], self.context.pinning.sidecar_cpus, argv, PROXY_UID),
            d / "envoy.log",
        )
        self.admins[pod] = EnvoyAdmin(admin_socket)

    def _start_app(self, name: str) -> None:
        spec = self.topology.service(name)
        port = self.topology.port
        calls = [f"http://{self.address[child]}:{port}" for child in spec.calls]
        args = service_args(
            spec,
            port,
            calls,
            protocol=self.topology.protocol,
            requests_per_connection=self.topology.requests_per_connection,
            seed=self.scenario.seed,
        )
        argv = [sys.executable, "-m", "meshbench.service", *args]
        self.procs.start(
            name,
            "app",
            wrap(self.netns[name], self.context.pinning.pod_cpus, argv),
            self.state_dir / name / "app.log",
        )

    def _check_alive(self) -> None:
        for p in self.procs.procs:
            if not p.alive():
                raise PlatformError(
                    f"{p.role} of pod {self.mesh}/{p.pod} exited with {p.popen.returncode}: "
                    f"{p.tail(3)}",
                    fix=f"see {self.context.log_hint(p.log)}",
                )

    def problems(self) -> list[str]:
        return [
            f"{p.role} of pod {self.label}/{p.pod} exited with {p.popen.returncode} "
            f"(log: {self.context.log_hint(p.log)})"
            for p in self.procs.procs
            if not p.alive()
        ]

    # -- probing -------------------------------------------------------------------

    def target_url(self) -> str:
        entry = self.topology.entry
        return f"http://{self.address[entry]}:{self.topology.port}{self.scenario.load.path}"

    def _probe_url(self, service: str, path: str) -> str:
        return probe_url(self.topology.protocol, self.address[service], self.topology.port, path)

    def _probe_target(self) -> str:
        """The target as a probe asks for it (one request crossing every hop)."""
        return self._probe_url(self.topology.entry, self.scenario.load.path)

    def probe(self, urls: list[str], deadline_s: float) -> None:
        """Wait until every URL answers 200 from inside the load generator's pod."""
        argv = wrap(
            self.netns[LOAD_POD],
            self.context.pinning.load_cpus,
            [
                sys.executable,
                "-m",
                "meshbench.platforms.local.probe",
                "--deadline",
                f"{deadline_s:.1f}",
                *urls,
            ],
        )
        proc = commands.run(argv, timeout_s=deadline_s + 15, check=False)
        if proc.returncode != 0:
            self._check_alive()
            raise PlatformError(
                f"mesh {self.mesh}: not reachable from the load pod within {deadline_s:.0f} s: "
                + proc.stderr.strip().replace("\n", "; "),
                fix=f"see the logs under {self.context.log_hint(self.state_dir)}",
            )

    def verify(self) -> Proof:
        sidecars = {pod: self._envoy_running(pod) for pod in self.pods}
        expected = set(self.sidecar_pods())
        wrong = sorted(p for p, has in sidecars.items() if has != (p in expected))
        if wrong:
            raise PlatformError(
                f"mesh {self.mesh}: sidecar presence is wrong for pods {wrong} "
                f"(expected sidecars exactly in {sorted(expected) or 'no pod'})"
            )
        if not self.sidecars:
            return Proof(sidecars=sidecars, crossed_sidecars=False)
        before = {pod: admin.counters() for pod, admin in self.admins.items()}
        self.probe([self._probe_target()], 10.0)
        after = {pod: admin.counters() for pod, admin in self.admins.items()}
        per_entry = self.topology.requests_per_entry_request()
        not_crossed = [
            s
            for s in self.services
            if (
                inbound_requests(before[s], after[s]) < per_entry[s]
                if self.features.l7
                else inbound_bytes(before[s], after[s]) <= 0
            )
        ]
        if not_crossed:
            raise PlatformError(
                f"mesh {self.mesh}: a probe request did not cross the sidecars of {not_crossed}",
                fix="check the iptables capture rules (iptables-save -t nat in the pod namespace)",
            )
        details: dict[str, Any] = {}
        if self.mtls:
            handshakes = {p: _handshakes(after[p]) for p in self.sidecar_pods()}
            details["tls_handshakes"] = handshakes
            if not any(handshakes.values()):
                raise PlatformError(f"mesh {self.mesh}: no TLS handshake counted by any sidecar")
        evidence, problems = feature_evidence(
            self.features, self.mtls, before, after, self.services
        )
        if self.features.configured():  # what only the running config can show
            dumps = {
                pod: admin.request("GET", "/config_dump")[1] for pod, admin in self.admins.items()
            }
            configured, missing = config_evidence(self.features, dumps)
            evidence["configured"] = configured
            problems += missing
        details["features"] = {"settings": self.features.differences(MINIMAL), **evidence}
        if problems:
            raise PlatformError(
                f"mesh {self.mesh}: a sidecar feature is not on the path: " + "; ".join(problems),
                fix=f"see the sidecars' envoy.json under {self.context.log_hint(self.state_dir)}",
            )
        return Proof(sidecars=sidecars, crossed_sidecars=True, details=details)

    def _envoy_running(self, pod: str) -> bool:
        """Whether the pod runs a sidecar: an Envoy under the proxy's uid (an Envoy playing
        the app, ``server: envoy``, runs under the app's)."""
        for pid in netns.pids(self.netns[pod]):
            try:
                proc = psutil.Process(pid)
                if proc.name() == "envoy" and proc.uids().real == PROXY_UID:
                    return True
            except psutil.NoSuchProcess:
                continue
        return False

    # -- measurement ---------------------------------------------------------------

    def sidecar_stats(self) -> dict[str, dict[str, int]]:
        out = {}
        for pod, admin in self.admins.items():
            counters = admin.counters()
            out[pod] = {k: v for k, v in counters.items() if k.startswith(KEPT_STAT_PREFIXES)}
        return out

    def check_accounting(
        self, before: dict[str, dict[str, int]], after: dict[str, dict[str, int]], sent: int
    ) -> list[str]:
        """Problems where sidecar counters do not account for exactly ``sent`` requests."""
        if not self.sidecars:
            return []
        problems = []
        per_entry = self.topology.requests_per_entry_request()
        for s in self.services:
            if not self.features.l7:  # an L4 sidecar counts bytes and connections
                if inbound_bytes(before[s], after[s]) <= 0:
                    problems.append(f"{s} L4 sidecar forwarded no bytes inbound")
                plain_name = f"tcp.{INBOUND_PLAINTEXT_STAT}.downstream_cx_total"
                what = "connections"
            else:
                got = inbound_requests(before[s], after[s])
                want = sent * per_entry[s]
                if got != want:
                    problems.append(f"{s} sidecar saw {got} inbound requests, expected {want}")
                plain_name = f"http.{INBOUND_PLAINTEXT_STAT}.downstream_rq_total"
                what = "requests"
            if self.mtls and s != self.topology.entry:
                plain = delta(before[s], after[s], plain_name)
                if plain:
                    problems.append(f"{s} sidecar took {plain} plaintext {what} under mTLS")
        if self.scenario.client_sidecar and self.features.l7:
            got = delta(
                before[LOAD_POD], after[LOAD_POD], f"http.{OUTBOUND_STAT}.downstream_rq_total"
            )
            if got != sent:
                problems.append(f"load pod sidecar sent {got} requests, expected {sent}")
        return problems

    def usage(self) -> UsageSnapshot:
        snap = UsageSnapshot(taken_at_s=time.monotonic())
        for p in self.procs.procs:
            try:
                proc = psutil.Process(p.pid)
                t = proc.cpu_times()
                key = f"{p.pod}/{p.role}"
                snap.cpu_s[key] = t.user + t.system
                snap.rss_bytes[key] = proc.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return snap

    def measured_usage(self) -> tuple[UsageSnapshot, UsageSnapshot] | None:
        """Usage at the last trial's measured-phase boundaries (:mod:`phase_usage`)."""
        return self._measured

    def run_load(self, request: LoadRequest, out_dir: Path) -> LoadSummary:
        """The load from the generator's pod; usage is sampled at the measured phase's
        boundaries meanwhile (the schedule origin is fixed here, so they are known)."""
        self._measured = None
        start_at = time.time() + START_DELAY_S
        begin = start_at + request.warmup_s
        end = begin + request.duration_s
        try:
            with (
                PhaseWindow(self.usage, begin, end) as window,
                Timeline(
                    self.usage, self._connection_counters, self._app_pids(), begin, end
                ) as timeline,
            ):
                summary = run_workers(
                    request,
                    out_dir,
                    self.scenario.load.workers,
                    self.context.pinning.load_cpus,
                    prefix=netns.exec_prefix(self.netns[LOAD_POD]),
                    env=self.context.process_env,
                    start_at=start_at,
                )
        except MeshbenchError:
            self._check_alive()  # a dead app or sidecar explains more than the generator
            raise
        if took_origin(out_dir / HLOG_FILE, start_at, request.label):
            self._measured = window.snapshots()
        timeline.write(out_dir)
        if self.captures is not None and request.request_id_prefix:
            self._observed.append(Observed(out_dir, measured_ids(request.request_id_prefix)))
        return summary

    def _app_pids(self) -> dict[str, int]:
        """One process per pod (its app), whose /proc shows the pod's network namespace."""
        return {p.pod: p.pid for p in self.procs.procs if p.role == "app"}

    def _connection_counters(self) -> dict[str, dict[str, int]]:
        """Each sidecar's connection and TLS handshake counters (for the timeline)."""
        return {pod: admin.counters(SIDECAR_COUNTERS) for pod, admin in self.admins.items()}


def _handshakes(stats: dict[str, int]) -> int:
    return sum(v for k, v in stats.items() if k.endswith(".ssl.handshake"))
