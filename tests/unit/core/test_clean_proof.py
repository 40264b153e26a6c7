"""`meshbench clean` removes only what an owner record proves is meshbench's: a namespace
merely named ``mb-<6 hex>-...`` is left alone, with the reason.

The namespace test needs root and ``ip`` (skipped otherwise). It points clean at a
private state root and never at the host's processes, so it cannot touch another run's
leftovers; what it creates it removes on every path."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from meshbench.platforms.local import cleanup, netns
from meshbench.platforms.local.cleanup import OWNER_FILE


@pytest.fixture
def state_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(cleanup, "STATE_ROOT", str(tmp_path))
    monkeypatch.setattr(cleanup, "tagged_processes", lambda skip: {})
    return tmp_path


def _record(root: Path, key: str, pid: str = "999999999 1.0") -> Path:
    d = root / f"meshbench-{key}-test"
    d.mkdir()
    (d / OWNER_FILE).write_text(f"{pid}\n")
    return d


def test_an_owner_record_proves_a_run_only_when_it_is_this_users_own(state_root: Path) -> None:
    _record(state_root, "aaaaaa")
    elsewhere = state_root / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / OWNER_FILE).write_text("1 1.0\n")
    (state_root / "meshbench-bbbbbb-link").symlink_to(elsewhere)  # a link is no record
    linked = state_root / "meshbench-cccccc-x"
    linked.mkdir()
    (linked / OWNER_FILE).symlink_to(elsewhere / OWNER_FILE)
    (state_root / "meshbench-dddddd-empty").mkdir()  # no owner.pid
    expected = {"aaaaaa"}
    if os.geteuid() == 0:  # a directory another user made in the shared /tmp
        other = _record(state_root, "eeeeee")
        os.chown(other, 65534, 65534)
        os.chown(other / OWNER_FILE, 65534, 65534)
    assert cleanup.proven_keys() == expected


def _netns_missing() -> str | None:
    if os.geteuid() != 0:
        return "creating a network namespace needs root"
    if shutil.which("ip") is None:
        return "ip (iproute2) is not installed"
    return None


@pytest.fixture
def namespaces() -> Iterator[list[str]]:
    """Names of namespaces the test creates, deleted afterwards whatever happened."""
    if why := _netns_missing():
        pytest.skip(why)
    made: list[str] = []
    try:
        yield made
    finally:
        for name in made:
            netns.delete(name)


def _free_key() -> str:
    while True:
        key = secrets.token_hex(3)
        if not any(n.startswith(f"mb-{key}-") for n in netns.list_netns()):
            return key


def test_clean_leaves_a_namespace_no_owner_record_proves_is_ours(
    state_root: Path, namespaces: list[str]
) -> None:
    foreign = f"mb-{_free_key()}-none-backend"  # what `ip netns add` by anyone makes
    key = _free_key()
    ours = f"mb-{key}-envoy-frontend"  # a killed run's: its owner record is here
    state = _record(state_root, key)
    for name in (foreign, ours):
        namespaces.append(name)
        netns.add(name)
    removed, skipped = cleanup.clean()
    assert f"netns {ours}" in removed and f"dir {state}" in removed
    assert ours not in netns.list_netns() and not state.exists()
    assert foreign in netns.list_netns()
    assert not any(foreign in r for r in removed)
    (why,) = [s for s in skipped if s.startswith(f"netns {foreign}:")]
    assert "named like meshbench's, but no owner record" in why
    assert f"`ip netns delete {foreign}`" in why
    removed, _ = cleanup.clean(force=True)  # --force is about live runs, not about proof
    assert foreign in netns.list_netns() and not any(foreign in r for r in removed)
