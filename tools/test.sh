#!/usr/bin/env bash
# Builds and runs the whole test suite (fastbuild by default).
#
#   tools/test.sh                       # bazel test //...
#   tools/test.sh --config=tsan         # extra Bazel flags are passed through
#   tools/test.sh --config=asan //tests/toolchain/...   # explicit targets
#
# Installs missing system packages first (tools/setup.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

tools/setup.sh

# Arguments starting with //, @ or : (or anything after a literal --) are
# target patterns; everything else is passed to Bazel as a flag.
flags=()
targets=()
after_dashdash=0
for arg in "$@"; do
  if ((after_dashdash)); then
    targets+=("$arg")
  elif [[ "$arg" == "--" ]]; then
    after_dashdash=1
  elif [[ "$arg" == //* || "$arg" == @* || "$arg" == :* ]]; then
    targets+=("$arg")
  else
    flags+=("$arg")
  fi
done
((${#targets[@]} > 0)) || targets=(//...)

exec bazel test "${flags[@]}" -- "${targets[@]}"
