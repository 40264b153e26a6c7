"""The embedded default platform: pods as Linux network namespaces, real Envoy sidecars.

Modules, in the order a deployment uses them: ``names`` (what we call things, so
``clean`` can find leftovers), ``netns`` (namespaces, bridge, veth), ``capture``
(istio-init style iptables rules), ``mtls`` (per-run CA), ``envoy`` (sidecar bootstrap),
``procs`` (owned processes), ``admin`` (Envoy admin over a unix socket), ``platform``.
"""
