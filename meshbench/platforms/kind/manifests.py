"""Kubernetes objects rendered from the scenario: the cluster config, the sample
application (from the same :class:`~meshbench.config.topology.Topology` the local platform
uses), the load-generator Job, the connectivity probe and each mesh's mTLS settings.

Everything here is a pure function returning plain dicts, so tests validate them
offline against the Kubernetes schema of the pinned version.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

import yaml

from meshbench.config.protocols import PROTOCOLS
from meshbench.config.scenario import Scenario
from meshbench.config.topology import ServiceSpec, Topology
from meshbench.load.spec import LoadRequest
from meshbench.platforms.kind.target import (
    CLUSTER_MARKER_KEY,
    MANAGED_BY,
    MANAGED_BY_VALUE,
    ROLE_KEY,
    Target,
)
from meshbench.service.app import service_args
from meshbench.service.http1 import HEALTH_PATH
from meshbench.service.probe import probe_url

Obj = dict[str, Any]

CONTAINER_LOG_MAX_SIZE = "50Mi"
"""Kubelet log rotation size on meshbench's kind nodes: load results come back through the
worker pods' logs (see :mod:`meshbench.platforms.kind.bundle`)."""

OUT_DIR = "/out"
APP_CONTAINER = "app"
LOAD_CONTAINER = "loadgen"
PROBE_REQUESTS = 20


def kind_cluster_config() -> Obj:
    """kind's Cluster config: one control plane, one worker for the app, one for load.

    Separate workers keep the generator's CPU off the nodes it measures (they still share
    the host's cores: kind nodes are containers). The marker label lets meshbench recognise
    its own cluster before reusing it.
    """
    kubelet_patch = (
        "apiVersion: kubelet.config.k8s.io/v1beta1\n"
        "kind: KubeletConfiguration\n"
        f"containerLogMaxSize: {CONTAINER_LOG_MAX_SIZE}\n"
    )

    def node(role: str, mb_role: str | None) -> Obj:
        labels = {CLUSTER_MARKER_KEY: MANAGED_BY_VALUE}
        if mb_role:
            labels[ROLE_KEY] = mb_role
        return {"role": role, "labels": labels}

    return {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "kubeadmConfigPatches": [kubelet_patch],
        "nodes": [node("control-plane", None), node("worker", "app"), node("worker", "load")],
    }


class _Dumper(yaml.SafeDumper):
    """Block style for multi-line strings (scripts, config patches) so YAML stays readable."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def to_yaml(objs: list[Obj]) -> str:
    """Objects as one multi-document YAML stream, keys in the order they were built."""
    return yaml.dump_all(objs, Dumper=_Dumper, sort_keys=False, default_flow_style=False)


def namespace(name: str, labels: dict[str, str], annotations: dict[str, str]) -> Obj:
    """A Namespace owned by meshbench (``labels`` may add mesh injection labels)."""
    meta: Obj = {"name": name, "labels": {**MANAGED_BY, **labels}}
    if annotations:
        meta["annotations"] = dict(annotations)
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def _labels(name: str, role: str) -> dict[str, str]:
    return {
        "app": name,
        "version": "v1",
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/part-of": "meshbench",
        ROLE_KEY: role,
        **MANAGED_BY,
    }


def _security_context() -> Obj:
    return {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }


def kind_service_args(svc: ServiceSpec, topology: Topology, seed: int = 0) -> list[str]:
    """The sample service's command line; downstream URLs are ``http://<service>:<port>``."""
    port = topology.port
    return service_args(
        svc,
        port,
        [f"http://{callee}:{port}" for callee in svc.calls],
        protocol=topology.protocol,
        requests_per_connection=topology.requests_per_connection,
        seed=seed,
    )


def _readiness(topology: Topology, port_name: str) -> Obj:
    """HTTP GET /healthz where the protocol's probe is HTTP (HTTP/1.1: the h2c services
    answer it too); other services (gRPC) are asked by the probe module, in the container
    (no grpc.health.v1 service to call)."""
    timing = {"periodSeconds": 2, "failureThreshold": 3, "timeoutSeconds": 2}
    if PROTOCOLS[topology.protocol].probe_scheme != "http":
        url = probe_url(topology.protocol, "127.0.0.1", topology.port, HEALTH_PATH)
        command = ["python", "-m", "meshbench.service.probe", "--timeout", "1", url]
        return {"exec": {"command": command}, **timing}
    return {"httpGet": {"path": HEALTH_PATH, "port": port_name}, **timing}


def app_deployment(scenario: Scenario, target: Target, svc: ServiceSpec) -> Obj:
    """The Deployment of one sample service, with a /healthz readiness probe."""
    k = scenario.kind
    topology = scenario.topology
    port = topology.port
    port_name = PROTOCOLS[topology.protocol].port_name
    labels = _labels(svc.name, "app")
    limits = {"memory": k.app_memory_limit}
    if k.app_cpu_limit:
        limits["cpu"] = k.app_cpu_limit
    pod_spec: Obj = {
        "terminationGracePeriodSeconds": 5,
        "containers": [
            {
                "name": APP_CONTAINER,
                "image": target.image,
                "imagePullPolicy": target.pull_policy,
                "command": ["python", "-m", "meshbench.service"],
                "args": kind_service_args(svc, topology, scenario.seed),
                "ports": [{"name": port_name, "containerPort": port, "protocol": "TCP"}],
                "readinessProbe": _readiness(topology, port_name),
                "resources": {
                    "requests": {"cpu": k.app_cpu_request, "memory": k.app_memory_request},
                    "limits": limits,
                },
                "securityContext": _security_context(),
            }
        ],
    }
    if target.pin_nodes:
        pod_spec["nodeSelector"] = {ROLE_KEY: "app"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": svc.name, "namespace": target.app_ns, "labels": labels},
        "spec": {
            "replicas": k.replicas,
            "selector": {"matchLabels": {"app": svc.name}},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }


def app_service(scenario: Scenario, target: Target, svc: ServiceSpec) -> Obj:
    """The ClusterIP Service of one sample service; the port is named, and its
    ``appProtocol`` set, for the app protocol
    (:attr:`~meshbench.config.protocols.ProtocolDecl.port_name`)."""
    port = scenario.topology.port
    name = PROTOCOLS[scenario.topology.protocol].port_name
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": svc.name,
            "namespace": target.app_ns,
            "labels": _labels(svc.name, "app"),
        },
        "spec": {
            "selector": {"app": svc.name},
            "ports": [
                {
                    "name": name,
                    "port": port,
                    "targetPort": name,
                    "protocol": "TCP",
                    "appProtocol": name,
                }
            ],
        },
    }


def workload(scenario: Scenario, target: Target) -> list[Obj]:
    """Deployments and Services of every service in the topology."""
    objs: list[Obj] = []
    for svc in scenario.topology.services:
        objs.append(app_deployment(scenario, target, svc))
        objs.append(app_service(scenario, target, svc))
    return objs


def entry_url(scenario: Scenario, target: Target, path: str = "/") -> str:
    """The in-cluster URL of the entry service: the only thing load is ever sent to."""
    topo = scenario.topology
    return f"http://{topo.entry}.{target.app_ns}.svc.cluster.local:{topo.port}{path}"


def job_name(label: str, prefix: str = "load") -> str:
    """A DNS-1123 Job name from a trial label (at most 63 characters)."""
    clean = re.sub(r"[^a-z0-9-]+", "-", label.lower()).strip("-") or "run"
    return f"{prefix}-{clean}"[:63].rstrip("-")


def worker_script(worker_count: int) -> str:
    """Shell run by each load worker: generate, then stream the results to the pod log.

    The results travel through the log because a finished pod cannot be ``kubectl cp``-ed
    from; the bundle carries a checksum so a truncated log is detected, never half-read.
    """
    gen = (
        'python -m meshbench.load.generator --request-json "$MB_REQUEST" '
        f'--out {OUT_DIR} --worker-index "${{JOB_COMPLETION_INDEX:-0}}" '
        f'--worker-count {worker_count} --start-at "$MB_START_AT"'
    )
    emit = f"python -m meshbench.platforms.kind.bundle {OUT_DIR}"
    return f"{gen}; rc=$?; {emit}; exit $rc"


def load_job(
    scenario: Scenario,
    target: Target,
    request: LoadRequest,
    start_at_epoch_s: float,
    pod_annotations: dict[str, str],
) -> Obj:
    """An Indexed Job of ``kind.load_workers`` generator pods sharing one schedule origin."""
    k = scenario.kind
    workers = k.load_workers
    name = job_name(request.label)
    labels = {**_labels("loadgen", "load"), "meshbench.io/job": name}
    deadline_s = int(
        k.load_start_delay_s + request.warmup_s + request.duration_s + request.timeout_s + 180
    )
    pod_spec: Obj = {
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 5,
        "containers": [
            {
                "name": LOAD_CONTAINER,
                "image": target.image,
                "imagePullPolicy": target.pull_policy,
                "command": ["sh", "-c", worker_script(workers)],
                "env": [
                    {"name": "MB_REQUEST", "value": request.to_json()},
                    {"name": "MB_START_AT", "value": f"{start_at_epoch_s:.3f}"},
                ],
                "resources": {
                    "requests": {"cpu": k.load_cpu_request, "memory": "256Mi"},
                    "limits": {"memory": k.load_memory_limit},
                },
                "volumeMounts": [{"name": "out", "mountPath": OUT_DIR}],
                "securityContext": _security_context(),
            }
        ],
        "volumes": [{"name": "out", "emptyDir": {}}],
    }
    spec: Obj = {
        "completionMode": "Indexed",
        "completions": workers,
        "parallelism": workers,
        "backoffLimit": 0,
        "activeDeadlineSeconds": deadline_s,
    }
    return _load_ns_job(target, name, labels, pod_spec, pod_annotations, spec)


def probe_job(
    scenario: Scenario, target: Target, name: str, pod_annotations: dict[str, str]
) -> Obj:
    """A short Job that sends :data:`PROBE_REQUESTS` requests through the entry service.

    It proves the application answers and gives the sidecars' counters something to count.
    """
    topo = scenario.topology
    host = f"{topo.entry}.{target.app_ns}.svc.cluster.local"
    url = probe_url(topo.protocol, host, topo.port, scenario.load.path)
    labels = {**_labels("probe", "load"), "meshbench.io/job": name}
    pod_spec: Obj = {
        "restartPolicy": "Never",
        "containers": [
            {
                "name": "probe",
                "image": target.image,
                "imagePullPolicy": target.pull_policy,
                "command": [
                    "python",
                    "-m",
                    "meshbench.service.probe",
                    "--count",
                    str(PROBE_REQUESTS),
                    url,
                ],
                "resources": {
                    "requests": {"cpu": "50m", "memory": "32Mi"},
                    "limits": {"memory": "128Mi"},
                },
                "securityContext": _security_context(),
            }
        ],
    }
    spec: Obj = {"backoffLimit": 2, "activeDeadlineSeconds": 120}
    return _load_ns_job(target, name, labels, pod_spec, pod_annotations, spec)


def _load_ns_job(
    target: Target,
    name: str,
    labels: dict[str, str],
    pod_spec: Obj,
    pod_annotations: dict[str, str],
    spec: Obj,
) -> Obj:
    """A Job in the load namespace running ``pod_spec`` (on the load node when pinned)."""
    if target.pin_nodes:
        pod_spec["nodeSelector"] = {ROLE_KEY: "load"}
    template_meta: Obj = {"labels": labels}
    if pod_annotations:
        template_meta["annotations"] = dict(pod_annotations)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": target.load_ns, "labels": labels},
        "spec": {**spec, "template": {"metadata": template_meta, "spec": pod_spec}},
    }


def describe_job_command(job: Obj) -> str:
    """The worker command of a load Job, shell-quoted (for logs and the dry-run plan)."""
    container = job["spec"]["template"]["spec"]["containers"][0]
    return shlex.join(container["command"])


def request_of(job: Obj) -> LoadRequest:
    """The LoadRequest embedded in a load Job (inverse of :func:`load_job`, for tests)."""
    env = job["spec"]["template"]["spec"]["containers"][0]["env"]
    value = next(e["value"] for e in env if e["name"] == "MB_REQUEST")
    return LoadRequest(**json.loads(value))
