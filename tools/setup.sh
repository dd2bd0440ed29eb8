#!/usr/bin/env bash
# Installs the Debian (bookworm) packages needed to build and test weft.
# Idempotent: does nothing (no apt-get update) when everything is installed.
# Runs as root, or via sudo when available.
set -euo pipefail

PACKAGES=(
  bazel-bootstrap          # Bazel 4.2.3 (`bazel`); pulls in build-essential + JDK
  bazel-bootstrap-source   # /usr/src/bazel-bootstrap/mock_repos (rules_cc, rules_java)
  build-essential
  g++                      # g++ 12: default compiler (fastbuild, opt)
  clang                    # clang 14: sanitizer configs (asan, tsan)
  clang-14
  libclang-rt-14-dev       # ASan/UBSan/TSan/LSan runtimes for clang 14
  llvm-14                  # llvm-symbolizer for sanitizer stack traces
  python3                  # .ci/run result parsing
  libtbb-dev
  libabsl-dev
  libgtest-dev
  libgmock-dev
  libbenchmark-dev
)

is_installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == "installed" ]]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
  is_installed "$pkg" || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "setup.sh: installing missing packages: ${missing[*]}" >&2

SUDO=()
if ((EUID != 0)); then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    echo "setup.sh: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null

for pkg in "${missing[@]}"; do
  if ! is_installed "$pkg"; then
    echo "setup.sh: failed to install $pkg" >&2
    exit 1
  fi
done
