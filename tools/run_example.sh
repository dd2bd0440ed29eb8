#!/usr/bin/env bash
# Builds and runs one example binary: bazel run //examples:NAME.
#
#   tools/run_example.sh NAME [args for the example...]
#   BAZEL_FLAGS="--config=opt" tools/run_example.sh NAME
#
# Installs missing system packages first (tools/setup.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if (($# < 1)); then
  echo "usage: $0 NAME [args...]   (runs //examples:NAME)" >&2
  exit 2
fi
name="$1"
shift

tools/setup.sh

# shellcheck disable=SC2086  # BAZEL_FLAGS is intentionally word-split.
exec bazel run ${BAZEL_FLAGS:-} "//examples:${name}" -- "$@"
