"""Helpers for tests and benchmarks, never imported by meshbench itself (a test checks).

``synthetic``: runs in the stored format with latencies of the caller's choosing.
``targets``: reference HTTP targets on loopback (an Envoy that answers by itself).
``contexts``: a local deployment's context without a platform (no root, nothing started).
``stalls``: what an integration test accepts from a shared CI host (a host stall).
``frames``: typed lookups in analysis frames (one number, string or row; the cells of a
  repeated row label).
"""
