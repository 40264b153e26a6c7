"""The reference copies of rendered manifests kept under ``manifests/``.

meshbench renders every object from code (the source of truth); the files under
``manifests/kind`` and ``manifests/meshes`` are the same objects for people to read and
for ``kubectl apply`` by hand. A unit test fails when they drift; regenerate them with
``python -m meshbench.platforms.kind.reference manifests``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from meshbench.config.scenario import Scenario, parse_scenario
from meshbench.platforms.kind.manifests import kind_cluster_config, to_yaml
from meshbench.platforms.kind.meshes import MESHES
from meshbench.platforms.kind.target import target_for

CLUSTER_HEADER = """\
# kind cluster for meshbench. meshbench renders this same config
# (meshbench.platforms.kind.manifests.kind_cluster_config) and runs
#   kind create cluster --name meshbench --config <it> --image <NODE_IMAGE in versions.py>
# One control plane; one worker for the sample services (meshbench.io/role=app) and one for
# the load generator (meshbench.io/role=load). meshbench.io/created-by marks the cluster as
# meshbench's own: meshbench refuses to reuse a kind cluster without it. The kubelet keeps
# 50Mi of container log because load results come home through the worker pods' logs.
"""


def _scenario(mtls: bool, client_sidecar: bool) -> Scenario:
    return parse_scenario(
        {
            "name": "reference",
            "platform": "kind",
            "meshes": list(MESHES),
            "client_sidecar": client_sidecar,
            "load": {"rates_rps": [100], "duration_s": 10},
            "kind": {"mtls": mtls},
        }
    )


def reference_files() -> dict[str, str]:
    """Relative path under manifests/ -> file text."""
    files = {"kind/cluster.yaml": CLUSTER_HEADER + to_yaml([kind_cluster_config()])}
    for mesh_name, m in MESHES.items():
        for mtls, client, label in (
            (True, False, "mtls-on"),
            (True, True, "mtls-on-meshed-client"),
            (False, False, "mtls-off"),
        ):
            sc = _scenario(mtls, client)
            objs = m.policies(sc, target_for(sc, Path("/unused")))
            if not objs:  # a mesh that applies no settings of its own
                continue
            header = (
                f"# {m.mtls_description(sc)}\n"
                "# Rendered by meshbench.platforms.kind.meshes (namespace prefix 'mb');\n"
                "# regenerate: python -m meshbench.platforms.kind.reference manifests\n"
            )
            files[f"meshes/{mesh_name}-{label}.yaml"] = header + to_yaml(objs)
    return files


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0] if args else "manifests")
    for rel, text in reference_files().items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
