"""Platforms that deploy the sample application with or without a mesh.

``local``: network namespaces with Envoy sidecars (the embedded default).
``kind``: real Kubernetes with Istio, Linkerd or Kuma.
"""
