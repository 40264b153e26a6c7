"""Every protocol is declared once (:mod:`meshbench.config.protocols`) and every layer
reads its declaration: the service starts a server for it, the generator a user, the
probes use its scheme, the local sidecars its wires, the capacity estimate its CPU cost
and the kind manifests its port name.

Each check swaps a declared value for another one and sees the output follow, so a layer
that ignored the declaration (a hard-coded ``if protocol == ...``) fails here.
(:mod:`tests.unit.core.test_protocols` serves, loads and probes every declared protocol
over loopback.)"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, cast, get_args

import pytest

from meshbench.config import protocols
from meshbench.config.protocols import PROTOCOLS, Protocol, ProtocolDecl, Wire
from meshbench.config.scenario import Scenario, parse_scenario
from meshbench.config.topology import chain
from meshbench.errors import ScenarioError
from meshbench.planning.plan import plan_trials
from meshbench.platforms.kind import manifests as mf
from meshbench.platforms.kind.target import target_for
from meshbench.platforms.local import capacity
from meshbench.platforms.local import deployment as local_deployment
from meshbench.platforms.local.deployment import LocalDeployment
from meshbench.service import envoy_app
from meshbench.service.app import SERVERS_BY_PROTOCOL, parse_args
from meshbench.service.behaviour import ServiceConfig
from meshbench.service.probe import probe_url
from meshbench.testing.contexts import offline_context

ALL = list(PROTOCOLS)
OTHER_WIRE: dict[Wire, Wire] = {"http1": "h2", "h2": "http1"}


def declare(monkeypatch: pytest.MonkeyPatch, protocol: Protocol, **changes: Any) -> ProtocolDecl:
    """Change ``protocol``'s declaration for this test (every layer reads the same table)."""
    decl = dataclasses.replace(PROTOCOLS[protocol], **changes)
    monkeypatch.setitem(cast(dict[Protocol, ProtocolDecl], protocols.PROTOCOLS), protocol, decl)
    return decl


def test_every_protocol_is_declared_once_under_its_name() -> None:
    assert list(PROTOCOLS) == list(get_args(Protocol))
    assert all(decl.name == name for name, decl in PROTOCOLS.items())


# -- served ----------------------------------------------------------------------


def test_every_declared_protocol_has_a_server_with_serve() -> None:
    assert list(SERVERS_BY_PROTOCOL) == ALL
    code = (
        "import importlib, json, sys; "
        "print(json.dumps([callable(getattr(importlib.import_module(m), 'serve', None)) "
        "for m in sys.argv[1:]]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *SERVERS_BY_PROTOCOL.values()],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout) == [True] * len(ALL)


@pytest.mark.parametrize("protocol", ALL)
def test_the_service_command_line_takes_every_declared_protocol(protocol: Protocol) -> None:
    assert parse_args(["--name", "a", "--protocol", protocol]).protocol == protocol


@pytest.mark.parametrize("protocol", [p for p in ALL if not PROTOCOLS[p].grpc])
def test_an_envoy_app_calls_downstream_in_the_declared_wire(
    monkeypatch: pytest.MonkeyPatch, protocol: Protocol
) -> None:
    def explicit() -> set[str]:
        service = ServiceConfig(name="a", protocol=protocol, calls=("http://127.0.0.1:9",))
        cluster = envoy_app.config(service)["static_resources"]["clusters"][0]
        options = cluster["typed_extension_protocol_options"]
        return set(next(iter(options.values()))["explicit_http_config"])

    codec = {"http1": {"http_protocol_options"}, "h2": {"http2_protocol_options"}}
    assert explicit() == codec[PROTOCOLS[protocol].app_wire]
    swapped = declare(monkeypatch, protocol, app_wire=OTHER_WIRE[PROTOCOLS[protocol].app_wire])
    assert explicit() == codec[swapped.app_wire]


# -- loaded ----------------------------------------------------------------------


def test_the_generator_has_a_user_for_every_declared_protocol() -> None:
    """In a subprocess: importing the generator patches the standard library with gevent."""
    code = (
        "import json; from meshbench.load.generator import USERS; "
        "print(json.dumps({p: u.__name__ for p, u in USERS.items()}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    users = json.loads(out.stdout)
    assert list(users) == ALL
    assert users["http1"] == "OpenLoopUser"  # Locust's FastHttpUser: the measured-fast client


# -- probed ----------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ALL)
def test_probe_urls_use_the_declared_scheme(
    monkeypatch: pytest.MonkeyPatch, protocol: Protocol
) -> None:
    decl = PROTOCOLS[protocol]
    assert probe_url(protocol, "h", 1, "/x") == f"{decl.probe_scheme}://h:1/x"
    other = "http" if decl.probe_scheme == "grpc" else "grpc"
    declare(monkeypatch, protocol, probe_scheme=other)
    assert probe_url(protocol, "h", 1, "/x") == f"{other}://h:1/x"


# -- local: the sidecars' wires and the capacity estimate ------------------------


def _scenario(protocol: Protocol, depth: int = 3, **settings: Any) -> Scenario:
    return parse_scenario(
        {
            "name": "protocols",
            "topology": {**chain(depth).model_dump(mode="json"), "protocol": protocol},
            "load": {"rates_rps": [100], "duration_s": 1},
            **settings,
        }
    )


def _local_scenario(protocol: Protocol, sidecar_protocol: str = "auto") -> Scenario:
    local = {"pod_cpus": "0", "sidecar_protocol": sidecar_protocol}
    return _scenario(protocol, meshes=["none", "envoy"], local=local)


def _sidecar_wires(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, protocol: Protocol) -> Any:
    """``(sidecar_protocol, app_protocol)`` the local deployment bootstraps its entry
    sidecar with, for apps speaking ``protocol``."""
    sc = _local_scenario(protocol)
    context = offline_context(sc, tmp_path)  # no platform: no root, no namespaces
    dep = LocalDeployment(context, "envoy", sc.topology, index=0)
    seen: dict[str, Any] = {}

    class Bootstrapped(Exception):
        pass

    def bootstrap(*_a: Any, **kw: Any) -> Any:
        seen.update(kw)
        raise Bootstrapped  # stop before the sidecar's files, iptables and process

    monkeypatch.setattr(local_deployment, "bootstrap", bootstrap)
    with pytest.raises(Bootstrapped):
        dep._start_sidecar(sc.topology.entry, None)
    return seen["sidecar_protocol"], seen["app_protocol"]


@pytest.mark.parametrize("protocol", ALL)
def test_local_sidecars_speak_the_declared_wires(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, protocol: Protocol
) -> None:
    decl = PROTOCOLS[protocol]
    assert _sidecar_wires(tmp_path, monkeypatch, protocol) == (decl.sidecar_wire, decl.app_wire)
    swapped = declare(
        monkeypatch,
        protocol,
        sidecar_wire=OTHER_WIRE[decl.sidecar_wire],
        app_wire=OTHER_WIRE[decl.app_wire],
    )
    assert _sidecar_wires(tmp_path, monkeypatch, protocol) == (
        swapped.sidecar_wire,
        swapped.app_wire,
    )


@pytest.mark.parametrize("protocol", ALL)
def test_an_http1_sidecar_wire_is_refused_for_http2_apps(protocol: Protocol) -> None:
    if PROTOCOLS[protocol].app_wire == "http1":
        assert _local_scenario(protocol, "http1").topology.protocol == protocol
    else:
        with pytest.raises(ScenarioError, match=rf"http1 cannot carry \['{protocol}'\]"):
            _local_scenario(protocol, "http1")


@pytest.mark.parametrize("protocol", ALL)
def test_the_capacity_estimate_counts_the_declared_app_cpu(
    monkeypatch: pytest.MonkeyPatch, protocol: Protocol
) -> None:
    sc = _local_scenario(protocol)
    declare(monkeypatch, protocol, app_cpu_ms=987.0)
    texts = [p.text for p in capacity.problems(sc, plan_trials(sc))]
    assert any("~987 ms of app" in t for t in texts), texts


# -- kind: the rendered Service and readiness probe ------------------------------


def _rendered(protocol: Protocol) -> tuple[dict[str, Any], dict[str, Any]]:
    sc = _scenario(protocol, depth=1, platform="kind", meshes=["none", "istio"])
    t = target_for(sc, Path("/tmp/unused"))
    svc = sc.topology.services[0]
    return mf.app_service(sc, t, svc), mf.app_deployment(sc, t, svc)


def _check_rendered(protocol: Protocol) -> None:
    decl = PROTOCOLS[protocol]
    service, deployment = _rendered(protocol)
    port = service["spec"]["ports"][0]
    assert port["name"] == port["appProtocol"] == port["targetPort"] == decl.port_name
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["ports"][0]["name"] == decl.port_name
    readiness = container["readinessProbe"]
    if decl.probe_scheme == "http":  # what a kubelet can ask itself
        assert readiness["httpGet"]["port"] == decl.port_name
    else:
        assert readiness["exec"]["command"][-1].startswith(f"{decl.probe_scheme}://")


@pytest.mark.parametrize("protocol", ALL)
def test_kind_renders_the_declared_port_name_and_probe(
    monkeypatch: pytest.MonkeyPatch, protocol: Protocol
) -> None:
    _check_rendered(protocol)
    other = "http" if PROTOCOLS[protocol].probe_scheme == "grpc" else "grpc"
    declare(monkeypatch, protocol, port_name="x-declared", probe_scheme=other)
    _check_rendered(protocol)
