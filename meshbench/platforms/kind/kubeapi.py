"""The reads the kind platform makes through the Kubernetes API, behind a small Protocol.

:class:`ClientKubeApi` is the real one (the ``kubernetes`` client, bound to one explicit
context, never the current one); tests use an in-memory fake. API and transport errors
are translated here to :class:`~meshbench.errors.ReadFailed` (a
:class:`~meshbench.errors.PlatformError`), which a trial turns into data: an API-server
proxy 503 while a sidecar restarts fails that trial, not the run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from meshbench.errors import PlatformError, ReadFailed

T = TypeVar("T")


@dataclass(frozen=True)
class PodInfo:
    """What the platform needs to know about one pod."""

    name: str
    namespace: str
    node: str
    phase: str  # Pending | Running | Succeeded | Failed | Unknown
    ready: bool
    containers: tuple[str, ...]
    init_containers: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    reason: str = ""  # why not ready, for error messages
    annotations: dict[str, str] = field(default_factory=dict)

    def has_container(self, name: str) -> bool:
        """True when ``name`` is a container or a (native sidecar) init container."""
        return name in self.containers or name in self.init_containers


class KubeApi(Protocol):
    """Read-only view of the cluster (every write is a kubectl/helm step)."""

    def server_version(self) -> str: ...

    def node_labels(self) -> dict[str, dict[str, str]]: ...

    def namespace_labels(self, name: str) -> dict[str, str] | None: ...

    def crd_exists(self, name: str) -> bool: ...

    def list_pods(self, namespace: str, selector: str = "") -> list[PodInfo]: ...

    def node_summary(self, node: str) -> dict[str, Any]: ...

    def pod_log(self, namespace: str, pod: str, container: str) -> str: ...

    def pod_proxy_get(self, namespace: str, pod: str, port: int, path: str) -> str: ...

    def job_conditions(self, namespace: str, name: str) -> dict[str, str]: ...


@contextmanager
def _translated(what: str) -> Iterator[None]:
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        yield
    except ApiException as e:
        raise ReadFailed(
            f"Kubernetes API: {what} failed: {e.status} {e.reason}",
            fix="check the cluster with kubectl get nodes; is the kube context reachable?",
        ) from None
    except (HTTPError, OSError) as e:
        raise ReadFailed(
            f"Kubernetes API: {what} failed: {e}",
            fix="is the cluster running (docker ps; kind get clusters)?",
        ) from None


class ClientKubeApi:
    """:class:`KubeApi` over the official ``kubernetes`` client, bound to ``context``."""

    def __init__(self, context: str) -> None:
        from kubernetes import client, config

        try:
            api_client = config.new_client_from_config(context=context)  # type: ignore[no-untyped-call]
        except Exception as e:  # kubeconfig parse errors come in many types
            raise PlatformError(
                f"cannot load kube context {context!r}: {e}",
                fix="kubectl config get-contexts lists the contexts that exist",
            ) from None
        self._client = api_client
        self._core = client.CoreV1Api(api_client)
        self._ext = client.ApiextensionsV1Api(api_client)
        self._version = client.VersionApi(api_client)
        self._batch = client.BatchV1Api(api_client)

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        with _translated(what):
            return fn()

    def server_version(self) -> str:
        info = self._call("read server version", self._version.get_code)
        return str(info.git_version)

    def node_labels(self) -> dict[str, dict[str, str]]:
        nodes: Any = self._call("list nodes", self._core.list_node)
        return {str(n.metadata.name): dict(n.metadata.labels or {}) for n in nodes.items}

    def namespace_labels(self, name: str) -> dict[str, str] | None:
        from kubernetes.client.exceptions import ApiException

        try:
            ns: Any = self._core.read_namespace(name)
        except ApiException as e:
            if e.status == 404:
                return None
            raise ReadFailed(f"Kubernetes API: read namespace {name} failed: {e.reason}") from None
        return dict(ns.metadata.labels or {})

    def crd_exists(self, name: str) -> bool:
        from kubernetes.client.exceptions import ApiException

        try:
            self._ext.read_custom_resource_definition(name)
        except ApiException as e:
            if e.status == 404:
                return False
            raise ReadFailed(f"Kubernetes API: read CRD {name} failed: {e.reason}") from None
        return True

    def list_pods(self, namespace: str, selector: str = "") -> list[PodInfo]:
        pods = self._call(
            f"list pods in {namespace}",
            lambda: self._core.list_namespaced_pod(namespace, label_selector=selector),
        )
        return [_pod_info(p) for p in pods.items]

    def node_summary(self, node: str) -> dict[str, Any]:
        resp: Any = self._call(
            f"read stats summary of node {node}",
            lambda: self._core.connect_get_node_proxy_with_path(
                node, "stats/summary", _preload_content=False
            ),
        )
        data: dict[str, Any] = json.loads(resp.data)
        return data

    def pod_log(self, namespace: str, pod: str, container: str) -> str:
        resp: Any = self._call(
            f"read log of {namespace}/{pod}",
            lambda: self._core.read_namespaced_pod_log(
                pod, namespace, container=container, _preload_content=False
            ),
        )
        return bytes(resp.data).decode("utf-8", errors="replace")

    def pod_proxy_get(self, namespace: str, pod: str, port: int, path: str) -> str:
        resp: Any = self._call(
            f"read {path} of {namespace}/{pod}:{port}",
            lambda: self._core.connect_get_namespaced_pod_proxy_with_path(
                f"{pod}:{port}", namespace, path.lstrip("/"), _preload_content=False
            ),
        )
        return bytes(resp.data).decode("utf-8", errors="replace")

    def job_conditions(self, namespace: str, name: str) -> dict[str, str]:
        """A Job's conditions, type -> status (``Complete``/``Failed`` -> ``True``)."""
        job: Any = self._call(
            f"read Job {namespace}/{name}",
            lambda: self._batch.read_namespaced_job_status(name, namespace),
        )
        return {str(c.type): str(c.status) for c in (job.status.conditions or [])}


def _pod_info(p: Any) -> PodInfo:
    status = p.status
    conditions = {c.type: c.status for c in (status.conditions or [])}
    reasons = []
    for cs in (status.container_statuses or []) + (status.init_container_statuses or []):
        waiting = cs.state.waiting if cs.state else None
        if waiting and waiting.reason:
            reasons.append(f"{cs.name}: {waiting.reason}")
    return PodInfo(
        name=p.metadata.name,
        namespace=p.metadata.namespace,
        node=p.spec.node_name or "",
        phase=status.phase or "Unknown",
        ready=conditions.get("Ready") == "True",
        containers=tuple(c.name for c in p.spec.containers or []),
        init_containers=tuple(c.name for c in p.spec.init_containers or []),
        labels=dict(p.metadata.labels or {}),
        reason="; ".join(reasons),
        annotations=dict(p.metadata.annotations or {}),
    )
