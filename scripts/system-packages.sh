#!/usr/bin/env bash
# Install the Debian packages the local platform (and the report's browser test) needs,
# only those missing. As root it installs them; otherwise it prints the one command to run.
set -euo pipefail

# Usage: system-packages.sh [test|bench|image]
#   (none)  what `meshbench run` needs on the local platform (tcpdump: attribution mode)
#   test    + Chromium, for the report's browser test
#   bench   + wrk and h2load, the reference load generators
#   image   + podman, runc and debootstrap, for `make image-check` (the kind image, built
#             from a local Debian base and run without a registry or a cluster)
declare -A need=(
  [ip]=iproute2
  [iptables-restore]=iptables
  [taskset]=util-linux
  [setpriv]=util-linux
  [tcpdump]=tcpdump
)
if [ "${1:-}" = test ]; then
  need[chromium]=chromium
fi
if [ "${1:-}" = bench ]; then
  need[wrk]=wrk
  need[h2load]=nghttp2-client
fi
if [ "${1:-}" = image ]; then
  need[podman]=podman
  need[runc]=runc
  need[debootstrap]=debootstrap
fi
missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
mapfile -t pkgs < <(printf '%s\n' "${missing[@]}" | sort -u)
if [ "$(id -u)" -ne 0 ]; then
  echo "meshbench needs these Debian packages: ${pkgs[*]}" >&2
  echo "fix: sudo apt-get install -y ${pkgs[*]}" >&2
  exit 1
fi
echo "installing system packages: ${pkgs[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
