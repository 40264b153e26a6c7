"""Fakes for the kind platform's two boundaries: executables on PATH and the API client."""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from meshbench.config.scenario import Scenario, parse_scenario
from meshbench.errors import ReadFailed
from meshbench.platforms.kind import versions
from meshbench.platforms.kind.kubeapi import PodInfo
from meshbench.platforms.kind.manifests import PROBE_REQUESTS

TOOLS = ("kind", "kubectl", "helm", "docker", "linkerd", "istioctl", "kumactl")


@dataclass
class Rule:
    """When ``pattern`` (a shell glob over "tool args...") matches: print and exit."""

    pattern: str
    exit_code: int = 0
    stdout: str = ""
    stderr: str = ""


def _q(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


@dataclass
class FakeBin:
    """A directory of shell scripts standing in for kind/kubectl/helm/..., logging argv."""

    root: Path
    rules: dict[str, list[Rule]] = field(default_factory=dict)

    @property
    def log(self) -> Path:
        return self.root / "calls.log"

    def install(self, tools: Iterable[str] = TOOLS) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for tool in tools:
            lines = [
                "#!/bin/sh",
                'printf "%s" "${0##*/}" >> "$FAKE_LOG"',
                'for a in "$@"; do printf " %s" "$a" >> "$FAKE_LOG"; done',
                'printf "\\n" >> "$FAKE_LOG"',
                'while IFS= read -r line; do printf "%s\\n" "$line" >> "$FAKE_LOG.stdin"; done',
                'printf -- "---\\n" >> "$FAKE_LOG.stdin"',
                'case "${0##*/} $*" in',
            ]
            for r in self.rules.get(tool, []):
                glob = "*".join(_q(part) if part else "" for part in r.pattern.split("*"))
                lines.append(f"  {glob})")
                if r.stdout:
                    lines.append(f"    printf '%s\\n' {_q(r.stdout)}")
                if r.stderr:
                    lines.append(f"    printf '%s\\n' {_q(r.stderr)} >&2")
                lines.append(f"    exit {r.exit_code};;")
            lines += ["esac", "exit 0", ""]
            path = self.root / tool
            path.write_text("\n".join(lines))
            path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def stdin(self) -> str:
        p = Path(str(self.log) + ".stdin")
        return p.read_text() if p.exists() else ""


def env_for(fake: FakeBin) -> dict[str, str]:
    """PATH with only the fakes: a real kubectl or helm can never be reached."""
    return {"PATH": str(fake.root), "FAKE_LOG": str(fake.log)}


def apply_env(monkeypatch: Any, fake: FakeBin) -> None:
    for k, v in env_for(fake).items():
        monkeypatch.setenv(k, v)


MARKED_NODES = {
    "meshbench-control-plane": {"meshbench.io/created-by": "meshbench"},
    "meshbench-worker": {"meshbench.io/created-by": "meshbench", "meshbench.io/role": "app"},
    "meshbench-worker2": {"meshbench.io/created-by": "meshbench", "meshbench.io/role": "load"},
}

STATS = {
    "istio-proxy": 'istio_requests_total{{reporter="destination",response_code="200"}} {n}\n'
    'istio_requests_total{{reporter="source",response_code="200"}} {n}\n',
    "linkerd-proxy": 'request_total{{direction="inbound",tls="true"}} {n}\n'
    'request_total{{direction="outbound"}} {n}\n',
    "kuma-sidecar": 'envoy_cluster_upstream_rq_total{{envoy_cluster_name="localhost_8080"}} {n}\n',
}
"""Each sidecar's counter lines ({n}: requests it has seen)."""

LAZY = {"istio-proxy", "linkerd-proxy"}
"""Sidecars whose labelled counter only appears after its first request (Envoy's
cluster counters, Kuma's, exist from the start at 0)."""

ZTUNNEL = (
    'istio_tcp_connections_opened_total{{reporter="destination",'
    'destination_workload_namespace="{ns}",destination_canonical_service="{svc}"}} {n}\n'
)
START_EPOCH_S = 1.7e9
"""Wall time at which the fake clock starts (tests of the shared start build on it)."""


def injects(sidecar: str | None, meta: dict[str, Any], by_default: bool = False) -> bool:
    """Whether ``sidecar``'s injector puts it into pods of a namespace with ``meta``, as
    the real injectors decide (written from their docs, not from meshbench's tables):
    Istio: ``istio-injection=enabled``, or ``istio.io/rev`` without ``istio-injection``;
    Linkerd: annotation ``linkerd.io/inject`` enabled/ingress; Kuma: label
    ``kuma.io/sidecar-injection`` enabled/true. ``by_default``: an injector set to inject
    every namespace that did not opt out (Istio's enableNamespacesByDefault)."""
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    if sidecar == "istio-proxy":
        v = labels.get("istio-injection")
        return v == "enabled" or (v is None and ("istio.io/rev" in labels or by_default))
    if sidecar == "linkerd-proxy":
        v = annotations.get("linkerd.io/inject")
        return v in ("enabled", "ingress") or (by_default and v is None)
    if sidecar == "kuma-sidecar":
        v = labels.get("kuma.io/sidecar-injection")
        return v in ("enabled", "true") or (by_default and v is None)
    return False


def ambient_captures(meta: dict[str, Any], by_default: bool = False) -> bool:
    """Whether ztunnel captures the pods of a namespace (``istio.io/dataplane-mode``)."""
    v = (meta.get("labels") or {}).get("istio.io/dataplane-mode")
    return v == "ambient" or (by_default and v is None)


@dataclass
class FakeKubeApi:
    """In-memory cluster: pods follow the scenario's topology.

    App pods live in ``<prefix>-app`` and in every ``*-app`` namespace applied through the
    fake kubectl; whether they get ``sidecar`` (or ztunnel's capture, with ``ambient``)
    follows the labels that namespace was applied with (:func:`injects`). ``<prefix>-app``
    before anything applied it counts as labelled for the mesh.

    Proxy counters move only with traffic: each probe Job that completed (its conditions
    read as Complete) sends PROBE_REQUESTS requests through every service, seen by every
    proxy except those in ``quiet_pods``. With ``probe_fails`` every probe Job fails, its
    pod with a log saying why.
    """

    scenario: Scenario
    sidecar: str | None = None  # container the installed mesh's injector adds
    ambient: bool = False  # istio-ambient is installed: ztunnel captures enrolled namespaces
    inject_by_default: bool = False  # the injector takes every namespace not opted out
    injected_namespaces: set[str] | None = None  # a webhook that ignores labels: exactly these
    nodes: dict[str, dict[str, str]] = field(default_factory=lambda: dict(MARKED_NODES))
    namespaces: dict[str, dict[str, str]] = field(default_factory=dict)
    crds: set[str] = field(default_factory=set)
    app_ready: bool = True
    worker_phase: str = "Succeeded"
    worker_logs: dict[int, str] = field(default_factory=dict)
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)
    summary_at: Callable[[str, float], dict[str, Any]] | None = None  # (node, wall) -> summary
    workers_done_at_s: float | None = None  # wall time the workers finish (None: at once)
    services: list[str] | None = None  # app pods; default: the scenario's topology
    quiet_pods: set[str] = field(default_factory=set)  # their proxy never sees traffic
    calls_log: Path | None = None  # the fake CLI's log, where probe traffic shows
    clock: Any = None  # the platform's Clock (wall time for workers and summaries)
    reads: int = 0
    calls: list[str] = field(default_factory=list)
    probe_fails: bool = False
    probes_done: list[str] = field(default_factory=list)  # each completion read
    failing: dict[str, int] = field(default_factory=dict)
    """Method name -> how many of its next calls fail as the real client's would (an
    API-server proxy 503 while a pod restarts)."""

    def _maybe_fail(self, method: str, what: str) -> None:
        if self.failing.get(method, 0) > 0:
            self.failing[method] -= 1
            raise ReadFailed(
                f"Kubernetes API: {what} failed: 503 Service Unavailable", fix="(fake)"
            )

    def server_version(self) -> str:
        return versions.KUBERNETES_VERSION

    def node_labels(self) -> dict[str, dict[str, str]]:
        return self.nodes

    def namespace_labels(self, name: str) -> dict[str, str] | None:
        self.calls.append(f"namespace {name}")
        return self.namespaces.get(name)

    def crd_exists(self, name: str) -> bool:
        return name in self.crds

    def _wall(self) -> float:
        return float(self.clock.wall()) if self.clock is not None else START_EPOCH_S

    def applied_namespaces(self) -> dict[str, dict[str, Any]]:
        """Each Namespace piped to the fake kubectl so far: its last metadata, by name."""
        if self.calls_log is None:
            return {}
        stdin = Path(str(self.calls_log) + ".stdin")
        if not stdin.exists():
            return {}
        return {
            d["metadata"]["name"]: d["metadata"]
            for d in yaml.safe_load_all(stdin.read_text())
            if isinstance(d, dict) and d.get("kind") == "Namespace"
        }

    def _mesh_app_ns(self) -> str:
        return f"{self.scenario.kind.namespace_prefix}-app"

    def _meta(self, namespace: str) -> dict[str, Any] | None:
        """How ``namespace`` was applied; None where app pods do not exist."""
        meta = self.applied_namespaces().get(namespace)
        if meta is None and namespace == self._mesh_app_ns():
            return {
                "labels": {
                    "istio-injection": "enabled",  # as a mesh would label it
                    "istio.io/dataplane-mode": "ambient",
                    "kuma.io/sidecar-injection": "enabled",
                },
                "annotations": {"linkerd.io/inject": "enabled"},
            }
        return meta if namespace.endswith("-app") else None

    def has_sidecar(self, namespace: str) -> bool:
        if self.injected_namespaces is not None:
            return namespace in self.injected_namespaces and self.sidecar is not None
        meta = self._meta(namespace)
        return meta is not None and injects(self.sidecar, meta, self.inject_by_default)

    def captured(self, namespace: str) -> bool:
        """ztunnel captures the namespace's pods (istio-ambient installed and enrolled)."""
        meta = self._meta(namespace)
        return self.ambient and meta is not None and ambient_captures(meta, self.inject_by_default)

    def list_pods(self, namespace: str, selector: str = "") -> list[PodInfo]:
        self._maybe_fail("list_pods", f"list pods in {namespace}")
        k = self.scenario.kind
        if self._meta(namespace) is not None:
            pods = []
            sidecar = (self.sidecar,) if self.has_sidecar(namespace) else ()
            annotations = (
                {"ambient.istio.io/redirection": "enabled"} if self.captured(namespace) else {}
            )
            for svc_name in self._services():
                for r in range(k.replicas):
                    pods.append(
                        PodInfo(
                            name=f"{svc_name}-{r}",
                            namespace=namespace,
                            node="meshbench-worker",
                            phase="Running",
                            ready=self.app_ready,
                            containers=("app", *sidecar),
                            labels={"app": svc_name},
                            reason="" if self.app_ready else "ContainersNotReady",
                            annotations=annotations,
                        )
                    )
            return pods
        if namespace == "istio-system" and selector == "app=ztunnel":
            return [
                PodInfo(
                    name=f"ztunnel-{n}",
                    namespace=namespace,
                    node=node,
                    phase="Running",
                    ready=True,
                    containers=("istio-proxy",),
                    labels={"app": "ztunnel"},
                )
                for n, node in (("a", "meshbench-worker"), ("l", "meshbench-worker2"))
            ]
        if selector.startswith("meshbench.io/job=probe-"):
            return [
                PodInfo(
                    name=f"{selector.split('=')[1]}-x",
                    namespace=namespace,
                    node="meshbench-worker2",
                    phase="Failed" if self.probe_fails else "Succeeded",
                    ready=False,
                    containers=("probe",),
                    reason="Error" if self.probe_fails else "",
                )
            ]
        if selector.startswith("meshbench.io/job=load-"):
            phase = self.worker_phase
            if self.workers_done_at_s is not None and self._wall() < self.workers_done_at_s:
                phase = "Running"
            return [
                PodInfo(
                    name=f"{selector.split('=')[1]}-{i}-x",
                    namespace=namespace,
                    node="meshbench-worker2",
                    phase=phase,
                    ready=False,
                    containers=("loadgen",),
                    labels={"batch.kubernetes.io/job-completion-index": str(i)},
                )
                for i in range(k.load_workers)
            ]
        return []

    def _services(self) -> list[str]:
        return self.services or [s.name for s in self.scenario.topology.services]

    def node_summary(self, node: str) -> dict[str, Any]:
        self._maybe_fail("node_summary", f"read stats summary of node {node}")
        if self.summary_at is not None:
            return self.summary_at(node, self._wall())
        return self.summaries.get(node, {"pods": []})

    def pod_log(self, namespace: str, pod: str, container: str) -> str:
        self._maybe_fail("pod_log", f"read log of {namespace}/{pod}")
        if container == "probe":
            return "Traceback (most recent call last):\nConnectionRefusedError: [Errno 111]\n"
        if container == "loadgen":
            idx = int(pod.rsplit("-", 2)[-2])
            return "generator output\n" + self.worker_logs.get(idx, "Traceback: boom\n")
        return f"log of {pod}/{container}\n"

    def job_conditions(self, namespace: str, name: str) -> dict[str, str]:
        self._maybe_fail("job_conditions", f"read Job {namespace}/{name}")
        self.calls.append(f"job {namespace}/{name}")
        if not name.startswith("probe-"):
            return {}
        if self.probe_fails:
            return {"Failed": "True"}
        self.probes_done.append(f"{namespace}/{name}")
        return {"Complete": "True"}

    def probe_requests(self) -> int:
        """Requests the completed probe Jobs sent through the entry so far."""
        return len(self.probes_done) * PROBE_REQUESTS

    def pod_proxy_get(self, namespace: str, pod: str, port: int, path: str) -> str:
        self._maybe_fail("pod_proxy_get", f"read {path} of {namespace}/{pod}:{port}")
        self.reads += 1
        n = self.probe_requests()
        if pod.startswith("ztunnel-"):
            if pod != "ztunnel-a" or n == 0:  # only the app node's ztunnel is a destination
                return "istio_build 1\n"
            # the mesh's namespace (enrolled unless it says otherwise), and any other
            # namespace ztunnel captures
            spaces = [self._mesh_app_ns()] + [
                ns
                for ns in self.applied_namespaces()
                if ns != self._mesh_app_ns() and self.captured(ns)
            ]
            return "".join(
                ZTUNNEL.format(ns=ns, svc=svc, n=n)
                for ns in spaces
                for svc in self._services()
                if f"{svc}-0" not in self.quiet_pods
            )
        if pod in self.quiet_pods:
            n = 0
        if not self.has_sidecar(namespace) or (n == 0 and self.sidecar in LAZY):
            return "envoy_server_live 1\n"
        assert self.sidecar is not None
        return STATS[self.sidecar].format(n=n)


def scenario(**overrides: Any) -> Scenario:
    data: dict[str, Any] = {
        "name": "kind-test",
        "platform": "kind",
        "meshes": ["none", "istio", "linkerd", "kuma"],
        "load": {"rates_rps": [50], "duration_s": 2, "warmup_s": 1, "connections": 2},
        "repeats": 1,
        "kind": {"load_workers": 2},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return parse_scenario(data, "test")


def make_source_dir(root: Path) -> Path:
    """A stand-in source checkout with manifests/image/Dockerfile."""
    d = root / "src"
    (d / "manifests" / "image").mkdir(parents=True)
    (d / "manifests" / "image" / "Dockerfile").write_text("FROM scratch\n")
    return d


def no_sleep_clock(wall_start_s: float = START_EPOCH_S) -> Any:
    """A Clock whose sleep advances time instantly (tests never really wait); its wall
    time starts at ``wall_start_s``."""
    from meshbench.platforms.kind.waits import Clock

    t = [0.0]

    def sleep(s: float) -> None:
        t[0] += s

    return Clock(now=lambda: t[0], sleep=sleep, wall=lambda: wall_start_s + t[0])
