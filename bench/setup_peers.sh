#!/usr/bin/env bash
# Installs the peers of the side-by-side scheduler suite (bench/suite.py) from Debian's
# packages. Never run by the test command: `tools/setup.sh` installs what weft needs; this
# adds the other runtimes, wrk (W8) and matplotlib (the chart). Idempotent.
#
#   bench/setup_peers.sh
set -euo pipefail

PACKAGES=(
  python3-uvloop           # asyncio + uvloop peers (system python3)
  golang-go                # Go peer
  libboost1.74-dev         # Boost.Asio 1.74 peer (header-only; built with g++ -O2)
  cargo                    # Tokio peer: Debian's cargo/rustc, offline ...
  rustc
  librust-tokio-dev        # ... against Debian's crates in /usr/share/cargo/registry
  wrk                      # W8 load generator
  python3-matplotlib       # the chart
)

is_installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == "installed" ]]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
  is_installed "$pkg" || missing+=("$pkg")
done
((${#missing[@]} == 0)) && exit 0

echo "setup_peers.sh: installing: ${missing[*]}" >&2
SUDO=()
if ((EUID != 0)); then
  command -v sudo >/dev/null 2>&1 || { echo "setup_peers.sh: need root or sudo" >&2; exit 1; }
  SUDO=(sudo)
fi
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
for pkg in "${missing[@]}"; do
  is_installed "$pkg" || { echo "setup_peers.sh: failed to install $pkg" >&2; exit 1; }
done
