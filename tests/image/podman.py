"""Podman as the image check drives it: a base image made without a registry, the image
built with the platform's own build step, and containers that are always removed.

Flags that make podman work in more places: ``--runtime runc --cgroup-manager cgroupfs``
(crun refuses hybrid cgroup v1 hosts, and cgroupfs needs no systemd), ulimits no higher
than this process's own (a sandbox without CAP_SYS_RESOURCE refuses podman's defaults),
``--log-driver k8s-file`` (no journald needed) and ``--network host`` for the build
(no private address range is touched).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from meshbench.platforms.kind.steps import Step

GLOBAL_FLAGS = ("--runtime", "runc", "--cgroup-manager", "cgroupfs")
TOOLS = {"podman": "podman", "runc": "runc", "debootstrap": "debootstrap"}
"""Executable -> Debian package (``scripts/system-packages.sh image`` installs them)."""
DEBIAN_SUITE = "bookworm"
CHECK_CA_PATH = "/etc/meshbench-check-ca.pem"
"""Where the base image keeps this host's CA bundle for pip, when the host names one."""


def missing() -> str | None:
    """Why the image check cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "the image check needs root (debootstrap, rootful podman)"
    absent = sorted(pkg for exe, pkg in TOOLS.items() if shutil.which(exe) is None)
    if absent:
        return (
            f"{', '.join(absent)} not installed "
            "(`scripts/system-packages.sh image` installs them through apt)"
        )
    return None


def ulimits() -> list[str]:
    """``--ulimit`` flags for open files and processes, at most 4096 and this process's own
    hard limits (podman's defaults ask for more, which needs CAP_SYS_RESOURCE)."""
    flags = []
    for name, which in (("nofile", resource.RLIMIT_NOFILE), ("nproc", resource.RLIMIT_NPROC)):
        _, hard = resource.getrlimit(which)
        n = 4096 if hard == resource.RLIM_INFINITY else min(4096, hard)
        flags += ["--ulimit", f"{name}={n}:{n}"]
    return flags


@dataclass
class Podman:
    """The podman CLI, remembering every container, network and image it creates so that
    :meth:`cleanup` removes exactly those (and nothing a user had before)."""

    prefix: str = field(default_factory=lambda: f"mbcheck-{uuid.uuid4().hex[:8]}")
    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)

    def argv(self, *args: str) -> list[str]:
        return ["podman", *GLOBAL_FLAGS, *args]

    def run(
        self, *args: str, timeout_s: float = 120, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            self.argv(*args),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        if check and proc.returncode != 0:
            raise RuntimeError(
                f"podman {' '.join(args[:3])} ... failed ({proc.returncode}): "
                f"{proc.stderr.strip()[-2000:]}"
            )
        return proc

    def name(self, what: str) -> str:
        return f"{self.prefix}-{what}"

    # -- images ---------------------------------------------------------------------

    def import_base(self, rootfs: Path, ref: str, ca_bundle: Path | None) -> None:
        """``rootfs`` as image ``ref`` (what ``FROM`` names); with ``ca_bundle``, pip in
        the build trusts the same CAs as this host's pip (a proxy that re-signs TLS)."""
        changes: list[str] = []
        if ca_bundle is not None:
            shutil.copyfile(ca_bundle, rootfs / CHECK_CA_PATH.lstrip("/"))
            changes = ["--change", f"ENV PIP_CERT={CHECK_CA_PATH}"]
        self.images.append(ref)
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        try:
            proc = subprocess.run(
                self.argv("import", *changes, "-", ref),
                stdin=tar.stdout,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
        finally:
            assert tar.stdout is not None
            tar.stdout.close()
            tar.wait(timeout=60)
        if proc.returncode != 0 or tar.returncode != 0:
            raise RuntimeError(f"podman import of {rootfs} failed: {proc.stderr.strip()}")

    def build(self, step: Step, base_ref: str) -> str:
        """Run the platform's ``docker build`` step with podman, ``FROM`` the local base.

        Only what podman needs is changed: the executable, the base image's name, the
        ignore file BuildKit would find by itself, and host networking with this host's
        limits. Returns the build's output.
        """
        argv = list(step.argv)
        assert argv[:2] == ["docker", "build"], argv
        dockerfile = Path(argv[argv.index("--file") + 1])
        i = argv.index("--tag")
        self.images.append(argv[i + 1])
        base_arg = next(n for n, a in enumerate(argv) if a.startswith("BASE_IMAGE="))
        argv[base_arg] = f"BASE_IMAGE={base_ref}"
        extra = [
            "--network",
            "host",
            *ulimits(),
            "--layers=false",
            "--pull=never",
            "--ignorefile",
            str(dockerfile.with_name(dockerfile.name + ".dockerignore")),
        ]
        proc = self.run("build", *extra, *argv[2:], timeout_s=step.timeout_s)
        return proc.stdout + proc.stderr

    # -- networks and containers -------------------------------------------------------

    def free_subnet(self) -> str:
        """A /24 in 198.19.0.0/16 (the RFC 2544 benchmarking range) no podman network uses."""
        out = self.run("network", "ls", "--format", "json").stdout
        used = {
            s.get("subnet")
            for net in json.loads(out or "[]")
            for s in net.get("subnets") or []
            if isinstance(s, dict)
        }
        for n in range(100, 255):
            subnet = f"198.19.{n}.0/24"
            if subnet not in used:
                return subnet
        raise RuntimeError("no free /24 in 198.19.100.0-198.19.254.0 for the check's network")

    def network(self, subnet: str) -> str:
        name = self.name("net")
        self.networks.append(name)
        self.run("network", "create", "--subnet", subnet, name)
        return name

    def start(self, name: str, run_args: Sequence[str]) -> None:
        """``podman run --detach`` a container created from ``run_args`` (flags, image, args)."""
        self.containers.append(name)
        self.run("run", "--detach", "--name", name, *ulimits(), *run_args)

    def wait(self, name: str, timeout_s: float) -> int:
        """The container's exit status, once it has exited."""
        out = self.run("wait", name, timeout_s=timeout_s).stdout.strip()
        return int(out.splitlines()[-1])

    def logs(self, name: str) -> str:
        proc = self.run("logs", name, check=False)
        return proc.stdout + proc.stderr

    def running(self, name: str) -> bool:
        out = self.run("inspect", "--format", "{{.State.Running}}", name, check=False).stdout
        return out.strip() == "true"

    def cleanup(self) -> list[str]:
        """Remove every container, network and image this object created; returns what
        could not be removed (empty when all went)."""
        left = []
        for what, items in (
            ("rm", self.containers),
            ("network rm", self.networks),
            ("rmi", self.images),
        ):
            for item in reversed(items):
                proc = self.run(*what.split(), "--force", item, check=False)
                err = proc.stderr.lower()
                if proc.returncode != 0 and "no such" not in err and "not known" not in err:
                    left.append(f"{what} {item}: {proc.stderr.strip()}")
            items.clear()
        return left
