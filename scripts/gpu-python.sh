#!/usr/bin/env bash
# The Python package on the GPU machine in one step: build the nanobind module from CMake alone,
# run the CUDA-marked pytest tests, time issue 17's GPU goal (bench/python_gpu_e2e.py) and the
# host-side call overhead on CUDA tensors (bench/python_overhead.py --device cuda, with the C++
# baseline bench_prefill_call --backend cuda; JSON in the log dir).
#
#   scripts/gpu-python.sh [steps]    # steps: build test bench (default: all three, in order)
#
# Why build there: the module is tied to one Python (3.12.3 and torch 2.11 on the GPU machine,
# 3.11 here; nanobind's stable ABI needs >= 3.12 at build time), so a module built here cannot
# be carried. What the build needs, all without network or pip: g++, cmake and ninja there; the
# headers scripts/gpu-carry.sh puts in .carry/include (sqlite3.h, nlohmann, CLI11, xxhash) and
# its nanobind sources (.carry/nanobind, preferred over the interpreter's own copy: the version
# the module was written against); Python.h of that interpreter (Triton, which torch.compile
# uses there, needs it too). No LLVM, no service, no GoogleTest: the library, the module, the CLI.
# Environment: PYTHON (default python3: the one that imports torch), PY_BUILD_DIR (default
# build-py), LOG_DIR (default $PY_BUILD_DIR/gpu-python), PYTEST_ARGS (extra pytest options),
# E2E_ARGS (extra bench/python_gpu_e2e.py options), PY_WITH_LLVM (default OFF; ON here builds the
# CPU backend too). The build step also builds the torch ops' C++ kernels (attnjit/_torch_ops.so,
# against that Python's torch) and names the ops they serve.
# Each step prints one line "gpu-python: <step> ok|FAIL|SKIP <detail>" and the summary comes
# last; exit status 0 when no step failed (a skip, e.g. no CUDA device, is not a failure).
# shellcheck disable=SC2317  # the steps are called indirectly ("step_$s")
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
PY=${PYTHON:-python3}
BUILD=${PY_BUILD_DIR:-build-py}
LOG=${LOG_DIR:-$BUILD/gpu-python}
mkdir -p "$LOG"
LOG=$(cd "$LOG" && pwd)
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$ROOT}  # where ccache exists: hits across checkouts
steps=("$@")
((${#steps[@]})) || steps=(build test bench)
for s in "${steps[@]}"; do
  case $s in build|test|bench) ;; *) echo "gpu-python: unknown step '$s' (build test bench)" >&2; exit 2 ;; esac
done
declare -A status=() detail=()
result() {  # result <step> <ok|FAIL|SKIP> <detail>
  status[$1]=$2; detail[$1]=$3
  echo "gpu-python: $1 $2 $3"
}

step_build() {
  local pyexe inc
  if ! pyexe=$(command -v "$PY"); then result build FAIL "no $PY on PATH"; return; fi
  # Fail in seconds, naming the cause, rather than deep in CMake.
  inc=$("$pyexe" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
  if [[ ! -f $inc/Python.h ]]; then
    result build FAIL "no Python.h in $inc for $pyexe (python3-dev)"; return
  fi
  local args=(-DCMAKE_BUILD_TYPE=Release -DATTNJIT_WITH_LLVM="${PY_WITH_LLVM:-OFF}" -DATTNJIT_WITH_SERVICE=OFF
              -DATTNJIT_BUILD_TESTS=OFF -DATTNJIT_WITH_PYTHON=ON -DPython_EXECUTABLE="$pyexe")
  command -v ninja >/dev/null && args+=(-G Ninja)
  command -v ccache >/dev/null && args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  [[ -d .carry/include ]] && args+=(-DATTNJIT_EXTRA_INCLUDE="$ROOT/.carry/include")
  [[ -d .carry/nanobind/cmake ]] && args+=(-Dnanobind_DIR="$ROOT/.carry/nanobind/cmake")
  # SQLite as a shared library: the module is a shared object, and the static archive
  # scripts/gpu-carry.sh carries for the executables is not position-independent.
  local sqlite
  sqlite=$(ldconfig -p 2>/dev/null | awk '/libsqlite3\.so\.0 .*x86-64/ {print $NF; exit}')
  [[ -z $sqlite && -f .carry/lib/x86_64-linux-gnu/libsqlite3.so.0 ]] && sqlite=$ROOT/.carry/lib/x86_64-linux-gnu/libsqlite3.so.0
  if [[ -z $sqlite ]]; then
    result build FAIL "no libsqlite3.so.0 (system or .carry/lib: rerun scripts/gpu-carry.sh)"; return
  fi
  args+=(-DSQLITE3_LIB="$sqlite")
  local t=$SECONDS
  if ! cmake -S . -B "$BUILD" "${args[@]}" > "$LOG/configure.log" 2>&1; then
    tail -25 "$LOG/configure.log"; result build FAIL "configure: $LOG/configure.log"; return
  fi
  if ! grep -q "attnjit: Python module for" "$LOG/configure.log"; then
    grep -E "WARNING|Python|nanobind" -A2 "$LOG/configure.log" | head -20
    result build FAIL "configure found no Python module setup (see $LOG/configure.log)"; return
  fi
  # The module and the package's Python files (not the .pyi stubs: nothing here needs them, and
  # stubgen failing must not cost the tests), the CLI and bench_prefill_call for the C++ figures.
  if ! cmake --build "$BUILD" --target _attnjit attnjit-cli bench_prefill_call -j "$(nproc)" > "$LOG/build.log" 2>&1; then
    grep -E "error|Error" "$LOG/build.log" | head -20; tail -15 "$LOG/build.log"
    result build FAIL "build: $LOG/build.log"; return
  fi
  local v
  if ! v=$(PYTHONPATH="$BUILD/python" "$pyexe" -c 'import attnjit; print(attnjit.__version__)' 2>&1); then
    echo "$v"; result build FAIL "the module does not import"; return
  fi
  # The torch ops' C++ kernels (attnjit/_torch_ops.so, python/torch_ops/), built apart: when they
  # fail, the step fails but the tests and the bench still run, on the ops' Python kernels.
  local ops
  if ! grep -q "attnjit: torch ops library for" "$LOG/configure.log"; then
    grep -E "torch ops" "$LOG/configure.log"; ops="FAIL: configure skipped it (see $LOG/configure.log)"
  elif ! cmake --build "$BUILD" --target attnjit_torch_ops -j "$(nproc)" > "$LOG/build-torch-ops.log" 2>&1; then
    grep -E "error" "$LOG/build-torch-ops.log" | head -20; ops="FAIL: $LOG/build-torch-ops.log"
  elif ! ops=$(PYTHONPATH="$BUILD/python" "$pyexe" -c 'import attnjit.torch as t; print(",".join(sorted(t.native_ops)) or "none: " + t.native_unavailable)' 2>&1); then
    echo "$ops"; ops="FAIL: attnjit.torch does not import"
  fi
  local st=ok
  [[ $ops == FAIL* || $ops == none* ]] && st=FAIL
  result build "$st" "attnjit $v for $("$pyexe" -V 2>&1) in $((SECONDS - t)) s ($BUILD/python; sqlite $sqlite; C++ torch ops: $ops)"
}

step_test() {
  if [[ ! -f $BUILD/bin/attnjit ]] || ! ls "$BUILD"/python/attnjit/_attnjit*.so >/dev/null 2>&1; then
    result test FAIL "no module in $BUILD (run the build step)"; return
  fi
  # The tests that take the cuda fixture (tests/python/conftest.py marks them `cuda`); pytest
  # from the interpreter, else the copy .carry/python holds. Skips print their reason (-rs).
  local pp="$ROOT/$BUILD/python"
  "$PY" -c 'import pytest' 2>/dev/null || pp+=":$ROOT/.carry/python"
  local extra=()
  read -ra extra <<< "${PYTEST_ARGS:-}"
  PYTHONPATH=$pp ATTNJIT_CLI="$ROOT/$BUILD/bin/attnjit" PYTHONDONTWRITEBYTECODE=1 \
    "$PY" -m pytest -q -rs -p no:cacheprovider -m cuda "${extra[@]}" tests/python > "$LOG/pytest.log" 2>&1
  local rc=$? last
  last=$(grep -E "passed|failed|skipped|error|no tests ran" "$LOG/pytest.log" | tail -1)
  grep -E "^(FAILED|ERROR|SKIPPED)" "$LOG/pytest.log" | head -20
  if ((rc != 0)); then tail -40 "$LOG/pytest.log"; result test FAIL "$last"
  elif grep -qE "[0-9]+ passed" <<< "$last"; then result test ok "$last"
  else result test SKIP "$last (no CUDA test ran)"
  fi
}

step_bench() {
  if [[ ! -x $BUILD/bin/attnjit ]]; then result bench FAIL "no $BUILD/bin/attnjit (run the build step)"; return; fi
  local extra=()
  read -ra extra <<< "${E2E_ARGS:-}"
  PYTHONPATH="$ROOT/$BUILD/python" "$PY" bench/python_gpu_e2e.py --attnjit "$BUILD/bin/attnjit" \
    --json-out "$LOG/python_gpu_e2e.json" "${extra[@]}" > "$LOG/bench.txt" 2>&1
  local rc=$?
  cat "$LOG/bench.txt"
  case $rc in
    0) result bench ok "$(grep -E '^python_gpu_e2e: goal' "$LOG/bench.txt" | sed 's/^python_gpu_e2e: //')" ;;
    77) result bench SKIP "$(grep -E 'skipped' "$LOG/bench.txt" | head -1 | sed 's/^python_gpu_e2e: //')" ;;
    *) result bench FAIL "rc=$rc, $LOG/bench.txt" ;;
  esac
  overhead
}

# Part of the bench step: the host's cost per enqueued call on CUDA tensors (issue 17's dispatch
# goal), C++ baseline included. Its result is appended to the bench step's detail.
overhead() {
  local cpp=() json=$LOG/python_overhead_cuda.json
  [[ -x $BUILD/bin/bench_prefill_call ]] && cpp=(--cpp "$BUILD/bin/bench_prefill_call")
  PYTHONPATH="$ROOT/$BUILD/python" "$PY" bench/python_overhead.py --device cuda "${cpp[@]}" --reps 20000 --json \
    > "$json" 2> "$LOG/python_overhead_cuda.err"
  local rc=$? note
  cat "$LOG/python_overhead_cuda.err"
  case $rc in
    0) note="overhead: $json"
       PYTHONPATH="$ROOT/$BUILD/python" "$PY" - "$json" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"python_overhead (cuda, load {d['load']:.1f}; {d['timing']}):")
for name, r in d["rows"].items():
    print(f"  {name:38} median {r['median_ns'] / 1e3:8.2f} us  min {r['min_ns'] / 1e3:8.2f} us")
PYEOF
       ;;
    77) note="overhead skipped: $(cat "$json")" ;;
    *) note="overhead FAIL rc=$rc ($LOG/python_overhead_cuda.err)" ;;
  esac
  echo "gpu-python: bench $note"
  detail[bench]+="; $note"
  # A failed overhead run fails the step even when the e2e figure was fine.
  [[ $rc != 0 && $rc != 77 ]] && status[bench]=FAIL
}

for s in "${steps[@]}"; do "step_$s"; done
echo "=== gpu-python summary (logs in $LOG)"
rc=0
for s in "${steps[@]}"; do
  printf '%-6s %-5s %s\n' "$s" "${status[$s]}" "${detail[$s]}"
  [[ ${status[$s]} == FAIL ]] && rc=1
done
exit $rc
