#!/usr/bin/env bash
# The README's test command: set-up, build, every test. Two labels stay out of the default run:
# the exhaustive compile sweep (`ctest --test-dir build -L sweep`) and `pip install .` into a
# fresh venv (`ctest --test-dir build -L packaging`: a full second build of the library).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
export BUILD_DIR
scripts/setup.sh
scripts/build.sh
"$BUILD_DIR/bin/attnjit" info || true   # which backends this machine has, so skips make sense
rc=0
ctest --test-dir "$BUILD_DIR" -LE "sweep|packaging" --output-on-failure -j "$(nproc)" --timeout 900 || rc=$?
# ctest hides why tests were skipped; GPU tests skip without a device, and that must be visible.
log="$BUILD_DIR/Testing/Temporary/LastTest.log"
if [ -f "$log" ] && grep -q ": Skipped" "$log"; then
  echo "Skip reasons (test count, reason):"
  grep -A1 ": Skipped" "$log" | grep -v -e "^--$" -e ": Skipped" | sort | uniq -c | sort -rn
fi
exit $rc
