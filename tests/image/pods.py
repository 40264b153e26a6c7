"""A rendered Kubernetes pod spec as ``podman run`` arguments, and its readiness probe.

Only what the kind manifests use is translated, and anything else is refused rather than
dropped: the container's command and args (``command`` replaces the image's entrypoint,
``args`` its CMD), plain ``env`` values, the security context (user, capabilities, no
privilege escalation), the memory limit, ``emptyDir`` volumes (a world-writable tmpfs, as
the kubelet makes them) and the readiness probe (``httpGet`` from outside the container,
as the kubelet probes from the node; ``exec`` inside it).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

Obj = dict[str, Any]

_SUPPORTED_CONTAINER_KEYS = {
    "name",
    "image",
    "imagePullPolicy",
    "command",
    "args",
    "env",
    "ports",
    "readinessProbe",
    "resources",
    "securityContext",
    "volumeMounts",
}


def pod_spec(obj: Obj) -> Obj:
    """The pod spec of a rendered Deployment or Job."""
    spec: Obj = obj["spec"]["template"]["spec"]
    return spec


def only_container(obj: Obj) -> Obj:
    """The one container of a rendered Deployment or Job (the manifests render one)."""
    containers = pod_spec(obj)["containers"]
    assert len(containers) == 1, f"{obj['metadata']['name']}: {len(containers)} containers"
    container: Obj = containers[0]
    unknown = set(container) - _SUPPORTED_CONTAINER_KEYS
    assert not unknown, f"not translated to podman: {sorted(unknown)}"
    return container


def _memory(quantity: str) -> str:
    """A Kubernetes memory quantity (``256Mi``) as podman's ``--memory`` (``256m``)."""
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi)?", quantity)
    assert m, f"memory quantity {quantity!r} not translated"
    unit = {"Ki": "k", "Mi": "m", "Gi": "g", None: "b"}[m.group(2)]
    return f"{m.group(1)}{unit}"


def run_args(
    obj: Obj,
    *,
    network: str,
    ip: str,
    hosts: Mapping[str, str],
    extra_env: Mapping[str, str] | None = None,
    memory_limits: bool = True,
) -> list[str]:
    """``podman run`` flags, image and args for the container of ``obj``.

    ``hosts`` maps the names the pod resolves through cluster DNS to addresses on
    ``network``; ``extra_env`` is what the cluster itself adds (an Indexed Job's
    ``JOB_COMPLETION_INDEX``).
    """
    c = only_container(obj)
    spec = pod_spec(obj)
    flags = ["--network", network, "--ip", ip, "--log-driver", "k8s-file"]
    for name, addr in sorted(hosts.items()):
        flags += ["--add-host", f"{name}:{addr}"]
    for e in c.get("env", []):
        assert set(e) == {"name", "value"}, f"env {e.get('name')}: only plain values"
        flags += ["--env", f"{e['name']}={e['value']}"]
    for k, v in sorted((extra_env or {}).items()):
        flags += ["--env", f"{k}={v}"]
    sc = c.get("securityContext", {})
    if "runAsUser" in sc:
        flags += ["--user", str(sc["runAsUser"])]
    if sc.get("runAsNonRoot"):
        assert sc.get("runAsUser", 0) != 0, "runAsNonRoot without a non-root runAsUser"
    if "ALL" in sc.get("capabilities", {}).get("drop", []):
        flags += ["--cap-drop", "ALL"]
    if sc.get("allowPrivilegeEscalation") is False:
        flags += ["--security-opt", "no-new-privileges"]
    limit = c.get("resources", {}).get("limits", {}).get("memory")
    if limit and memory_limits:
        flags += ["--memory", _memory(limit)]
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for m in c.get("volumeMounts", []):
        vol = volumes[m["name"]]
        assert "emptyDir" in vol, f"volume {m['name']}: only emptyDir is translated"
        flags += ["--mount", f"type=tmpfs,destination={m['mountPath']},tmpfs-mode=1777"]
    if "command" in c:
        flags += ["--entrypoint", json.dumps(c["command"])]
    return [*flags, c["image"], *c.get("args", [])]


def port_number(container: Obj, port: int | str) -> int:
    """A probe's port: a number, or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    for p in container.get("ports", []):
        if p.get("name") == port:
            return int(p["containerPort"])
    raise AssertionError(f"probe port {port!r} is not a port of the container")


def probe_once(container: Obj, ip: str, exec_in: Callable[[list[str]], int]) -> str | None:
    """Run the container's readiness probe once: None when ready, else why not."""
    probe: Obj = container["readinessProbe"]
    timeout_s = float(probe.get("timeoutSeconds", 1))
    if "httpGet" in probe:
        get = probe["httpGet"]
        url = f"http://{ip}:{port_number(container, get['port'])}{get.get('path', '/')}"
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as resp:
                status = int(resp.status)
        except urllib.error.HTTPError as e:
            status = e.code
        except OSError as e:
            return f"GET {url}: {e}"
        # the kubelet counts 200-399 as success
        return None if 200 <= status < 400 else f"GET {url}: {status}"
    if "exec" in probe:
        rc = exec_in(list(probe["exec"]["command"]))
        return None if rc == 0 else f"exec probe exited {rc}"
    raise AssertionError(f"readiness probe not translated: {sorted(probe)}")


def wait_ready(
    container: Obj,
    ip: str,
    exec_in: Callable[[list[str]], int],
    alive: Callable[[], bool],
    deadline_s: float,
) -> None:
    """Probe every ``periodSeconds`` until ready; fail if the container exits or the
    deadline passes (the kubelet would keep the pod out of its Service meanwhile)."""
    probe: Obj = container["readinessProbe"]
    period_s = float(probe.get("periodSeconds", 10))
    end = time.monotonic() + deadline_s
    reason = "not probed"
    while time.monotonic() < end:
        reason = probe_once(container, ip, exec_in) or ""
        if not reason:
            return
        if not alive():
            raise AssertionError(f"{container['name']} exited before it was ready: {reason}")
        time.sleep(period_s)
    raise AssertionError(f"not ready after {deadline_s:g} s: {reason}")


def exec_with(argv_prefix: list[str], name: str, timeout_s: float) -> Callable[[list[str]], int]:
    """An ``exec`` probe runner: ``podman exec NAME CMD...``, its exit status."""

    def run(command: list[str]) -> int:
        try:
            return subprocess.run(
                [*argv_prefix, "exec", name, *command],
                capture_output=True,
                timeout=timeout_s,
                check=False,
                stdin=subprocess.DEVNULL,
            ).returncode
        except subprocess.TimeoutExpired:
            return 124

    return run
