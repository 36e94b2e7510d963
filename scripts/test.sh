#!/usr/bin/env bash
# The README's test command: set-up, build, every test. The exhaustive compile sweep is behind
# its label: run it with `ctest --test-dir build -L sweep`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
ctest --test-dir "${BUILD_DIR:-build}" -LE sweep --output-on-failure -j "$(nproc)" --timeout 900
