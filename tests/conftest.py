"""Shared fixtures and the skip rules of the test tiers.

- unit tests: no privileges, no network beyond loopback.
- ``integration``: the local platform for real (root, ip netns, iptables, Envoy).
- ``kind``: a real kind cluster (Docker + kind), skipped where they are absent.
- ``image``: the kind image built and its containers run with podman (``make
  image-check``); slow, so run only when selected with ``-m image``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def local_platform_missing() -> str | None:
    """Why the local platform cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "the local platform needs root (network namespaces, iptables)"
    for tool in ("ip", "iptables-restore", "taskset", "setpriv"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (make test installs it through apt)"
    return None


def image_check_selected(config: pytest.Config) -> bool:
    """True when the run asked for the image check by marker (``-m image``)."""
    return "image" in str(config.getoption("markexpr") or "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not image_check_selected(config):
        not_asked = pytest.mark.skip(
            reason="the image check builds an image (minutes): run it with `make image-check`"
        )
        for item in items:
            if item.get_closest_marker("image") is not None:
                item.add_marker(not_asked)
    reason = local_platform_missing()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if "integration" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO
