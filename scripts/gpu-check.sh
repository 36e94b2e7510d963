#!/usr/bin/env bash
# The one command for a GPU machine (Ubuntu 24.04, CUDA 13, g++ 13, cmake, PyTorch; no network,
# no sqlite3.h / httplib / LLVM / nlohmann / CLI11 / xxhash headers): configure, build, run the
# tests (the GPU ones included), benchmark, compare with PyTorch SDPA, print a summary last.
#
#   scripts/gpu-carry.sh            # on the development machine: fills .carry/ (git-ignored)
#   scripts/gpu-check.sh [phases]   # on the GPU machine; phases run in the order given:
#                                   # build test sweep bench torch decode tune sm90 python
#                                   # (default: build test bench torch decode — sweep, sm90 and
#                                   # python are opt-in; sm90 needs an H100/H200, see below;
#                                   # python: scripts/gpu-python.sh in $BUILD_DIR-py)
# Environment: BUILD_DIR (default build-gpu), OUT (where logs and JSON go; default
# $BUILD_DIR/gpu-check), BENCH_ARGS (extra `attnjit bench` options, e.g. "--head-dim 128"),
# CTEST_ARGS (extra ctest options), ATTNJIT_CACHE_DIR (kernel cache; default $OUT/cache so a
# check measures cold compiles once and then reuses them).
# Each phase can run in its own call (the build persists in BUILD_DIR). Exit status: 0 when
# every phase that ran passed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_DIR=${BUILD_DIR:-build-gpu}
OUT=${OUT:-$BUILD_DIR/gpu-check}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
export ATTNJIT_CACHE_DIR=${ATTNJIT_CACHE_DIR:-$OUT/cache}
phases=("$@")
((${#phases[@]})) || phases=(build test bench torch decode)
known=" build test sweep bench torch decode tune sm90 python "
for p in "${phases[@]}"; do  # every phase checked before any runs: a typo costs no GPU time
  if [[ $known != *" $p "* ]]; then
    echo "gpu-check: unknown phase '$p' (build test sweep bench torch decode tune sm90 python)" >&2; exit 2
  fi
done

CLI=$BUILD_DIR/bin/attnjit
declare -A status=()
declare -A detail=()
say() { printf '\n=== gpu-check: %s ===\n' "$*"; }
# phase_failed <phase> <log> <lines>: prints the log's last lines and records the phase failed.
phase_failed() {
  tail -"$3" "$2" 2>/dev/null
  status[$1]=FAIL; detail[$1]="see $2"
}

say "machine"
{
  uname -srm
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "nvidia-smi: not available"
  /usr/local/cuda/bin/nvcc --version 2>/dev/null | tail -1 || true
  g++ --version | head -1
  cmake --version | head -1
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())' 2>/dev/null || echo "torch: not importable"
} | tee "$OUT/machine.txt"

phase_build() {
  say "build ($BUILD_DIR)"
  if [[ ! -d .carry/include ]]; then
    echo "gpu-check: .carry/include is missing: run scripts/gpu-carry.sh on the development machine and carry .carry/" >&2
    status[build]=FAIL; detail[build]="no .carry/include"
  else
    gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
    extra=()
    # GoogleTest: the system's if present, else the carried copy (scripts/gpu-carry.sh --gtest).
    if ! ls /usr/lib/*/cmake/GTest/GTestConfig.cmake /usr/lib/cmake/GTest/GTestConfig.cmake >/dev/null 2>&1 \
       && [[ -d .carry/lib/x86_64-linux-gnu/cmake/GTest ]]; then
      extra+=(-DGTest_DIR="$ROOT/.carry/lib/x86_64-linux-gnu/cmake/GTest")
    fi
    if cmake -S . -B "$BUILD_DIR" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
         -DATTNJIT_WITH_LLVM=OFF -DATTNJIT_WITH_SERVICE=OFF \
         -DATTNJIT_EXTRA_INCLUDE="$ROOT/.carry/include" "${extra[@]}" > "$OUT/configure.log" 2>&1 \
       && cmake --build "$BUILD_DIR" -j "$(nproc)" > "$OUT/build.log" 2>&1; then
      status[build]=ok; detail[build]="$(grep -c 'Linking' "$OUT/build.log") targets linked"
    else
      tail -40 "$OUT/configure.log" "$OUT/build.log" 2>/dev/null
      status[build]=FAIL; detail[build]="see $OUT/build.log"
    fi
  fi
}

run_ctest() {  # run_ctest <phase> <ctest label args...>
  local phase=$1; shift
  if [[ ! -f "$BUILD_DIR/CTestTestfile.cmake" ]]; then
    status[$phase]=FAIL; detail[$phase]="not built"; return
  fi
  ctest --test-dir "$BUILD_DIR" "$@" --output-on-failure --timeout 1800 ${CTEST_ARGS:-} \
    > "$OUT/$phase.log" 2>&1
  local rc=$?
  grep -E "tests passed|tests failed" "$OUT/$phase.log" | tail -1
  grep -E "^\s*[0-9]+ - .*\((Failed|Timeout|SEGFAULT|Subprocess aborted|Exception)\)" "$OUT/$phase.log" | head -30
  # The GPU suites print what they measured and how many cases ran.
  grep -hE "^\[ (measure|cases|configs|device) +\]" "$OUT/$phase.log" | sort -u | head -30
  if ((rc == 0)); then status[$phase]=ok; else status[$phase]=FAIL; fi
  detail[$phase]="$(grep -E 'tests passed' "$OUT/$phase.log" | tail -1 | sed 's/^ *//')"
}

phase_test() {
  say "tests (everything but the sweep)"
  run_ctest test -LE sweep -j "${CTEST_JOBS:-6}"
}
phase_sweep() {
  say "sweep (every config of every problem)"
  run_ctest sweep -L sweep
}

phase_bench() {
  say "attnjit bench (FlashAttention grid)"
  if [[ -x $CLI ]] && $CLI bench --json ${BENCH_ARGS:-} > "$OUT/bench.json" 2> "$OUT/bench.err"; then
    status[bench]=ok; detail[bench]="$OUT/bench.json"
    python3 - "$OUT/bench.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"{d['backend']}")
print(f"{'dtype':5} {'hd':>4} {'mask':8} {'seqlen':>6} {'config':22} {'ms':>9} {'TFLOP/s':>8}")
for r in d["results"]:
    print(f"{r['dtype']:5} {r['head_dim']:>4} {r['mask']:8} {r['seqlen']:>6} {r['config']:22} {r['median_ms']:>9.3f} {r['tflops']:>8.1f}")
PY
  else
    phase_failed bench "$OUT/bench.err" 20
  fi
}

phase_torch() {
  say "compare with PyTorch SDPA (flash, cuDNN)"
  reuse=()
  [[ -s "$OUT/bench.json" ]] && reuse=(--attnjit-json "$OUT/bench.json")
  if python3 bench/compare_torch.py --attnjit "$CLI" "${reuse[@]}" --json-out "$OUT/compare.json" \
       ${BENCH_ARGS:-} > "$OUT/compare.txt" 2>&1; then
    status[torch]=ok; detail[torch]="$OUT/compare.txt"
  else
    status[torch]=FAIL; detail[torch]="see $OUT/compare.txt"
  fi
  cat "$OUT/compare.txt"
}

phase_decode() {
  # Issue #19's grid: batch 1/8/64 x GQA 1/4/8 x 4k/32k/128k, contiguous and 16-token pages,
  # bf16 and fp8 (e4m3) K/V, against the copy ceiling and torch SDPA (flash, cuDNN); a short
  # table, every number in decode.json. DECODE_ARGS: extra bench/decode_grid.py options.
  say "decode: the #19 grid (bench/decode_grid.py) beside PyTorch SDPA and the copy ceiling"
  if python3 bench/decode_grid.py --attnjit "$CLI" --json-out "$OUT/decode.json" ${DECODE_ARGS:-} \
       > "$OUT/decode.md" 2> "$OUT/decode.err"; then
    status[decode]=ok; detail[decode]="$OUT/decode.md"
    cat "$OUT/decode.md"
  else
    phase_failed decode "$OUT/decode.err" 20
  fi
}

phase_tune() {
  # Tunes TUNE_PROBLEMS (default: bf16 prefill, head dims 64/128/256, none/causal, 1k and 8k)
  # into $OUT/tune.db, then times the bench grid with the tuned configs beside PyTorch.
  say "tune: attnjit tune, then attnjit bench --db beside PyTorch SDPA"
  local probs=() hd m len
  if [[ -n ${TUNE_PROBLEMS:-} ]]; then read -ra probs <<< "$TUNE_PROBLEMS"
  else
    for hd in 64 128 256; do for m in none causal; do for len in 1024 8192; do
      probs+=("prefill_bf16_hd${hd}_${m}_g1_q${len}_k${len}_even")
    done; done; done
  fi
  local args=() p
  for p in "${probs[@]}"; do args+=(--problem "$p"); done
  rm -f "$OUT/tune.db"
  if timeout "${TUNE_TIMEOUT:-360}" "$CLI" tune "${args[@]}" --backend gpu --db "$OUT/tune.db" \
       --jsonl-out "$OUT/tune.jsonl" --strategy exhaustive ${TUNE_ARGS:-} > "$OUT/tune.log" 2>&1 \
     && "$CLI" bench --json --db "$OUT/tune.db" ${BENCH_ARGS:-} > "$OUT/bench-tuned.json" 2>> "$OUT/tune.log" \
     && python3 bench/compare_torch.py --attnjit-json "$OUT/bench-tuned.json" \
          --json-out "$OUT/compare-tuned.json" > "$OUT/compare-tuned.txt" 2>&1; then
    status[tune]=ok; detail[tune]="${#probs[@]} problems tuned; $OUT/compare-tuned.txt"
    grep '^|' "$OUT/tune.log"   # the tuner's summary: best config, speed-up over the default
    cat "$OUT/compare-tuned.txt"
  else
    phase_failed tune "$OUT/tune.log" 30
  fi
}

phase_sm90() {
  # Hopper checks, sized for one device call (<= 7 min): the layout probes diffed with the
  # emulator's goldens, the FA3-shaped test kernel against float64, compute-sanitizer on two
  # small shapes (scripts/gpu-probes/run.sh: nvcc only, no attnjit build needed; prebuild with
  # `scripts/gpu-probes/run.sh --build-only .carry/gpu-probes` and carry it to save ~1 min);
  # then, where the attnjit build exists, the sm90 GPU tests and the prefill grid with the sm80
  # path forced and the sm90 path beside PyTorch flash / cuDNN.
  say "sm90: layout probes, FA3-shaped kernel, compute-sanitizer, sm80 vs sm90 vs torch"
  local rc=0
  scripts/gpu-probes/run.sh "$OUT/sm90" 2>&1 | tee "$OUT/sm90.log"
  ((PIPESTATUS[0] == 0)) || rc=1
  detail[sm90]="$(grep -c ': matches' "$OUT/sm90.log") goldens match, $(grep -c PASS "$OUT/sm90.log") fa3 shapes pass"
  if [[ -f "$BUILD_DIR/CTestTestfile.cmake" ]]; then
    ctest --test-dir "$BUILD_DIR" -R '[Ss]m90' --output-on-failure ${CTEST_ARGS:-} > "$OUT/sm90-ctest.log" 2>&1 || rc=1
    grep -E "tests passed|tests failed|No tests were found" "$OUT/sm90-ctest.log" | tail -1
  fi
  if [[ -x $CLI ]]; then
    # The FlashAttention grid (bf16, head dims 64 / 128 / 256, seqlen 512..16k at 16k tokens,
    # causal on and off; SM90_GRID overrides) with each template's defaults, then one table:
    # sm90, sm80, torch flash, cuDNN (bench/compare_sm90.py).
    local t grid=(${SM90_GRID:---dtype bf16 --head-dim 64,128,256 --mask none,causal})
    for t in sm80 sm90; do
      # Bounded: an sm90 kernel that never ran on a GPU may hang on a lost mbarrier arrive.
      timeout "${SM90_BENCH_TIMEOUT:-240}" $CLI bench --json --template "$t" "${grid[@]}" ${BENCH_ARGS:-} \
        > "$OUT/bench-$t.json" 2> "$OUT/bench-$t.err" || { rc=1; tail -5 "$OUT/bench-$t.err"; }
    done
    python3 bench/compare_sm90.py --sm80-json "$OUT/bench-sm80.json" --sm90-json "$OUT/bench-sm90.json" \
      --json-out "$OUT/sm90-grid.json" > "$OUT/sm90-grid.txt" 2>&1 || rc=1
    cat "$OUT/sm90-grid.txt"
  else
    echo "sm90: prefill grid skipped (no attnjit build at $CLI)"
  fi
  if ((rc == 0)); then status[sm90]=ok; else status[sm90]=FAIL; fi
}

phase_python() {
  # The Python module built on this machine from CMake (its own Python and torch; .carry's
  # headers and nanobind), the CUDA pytest tests, issue 17's end-to-end goal at hd128 8k.
  say "python: module build, CUDA pytest tests, end-to-end vs C++ (scripts/gpu-python.sh)"
  PY_BUILD_DIR="$BUILD_DIR-py" LOG_DIR="$OUT/python" scripts/gpu-python.sh > "$OUT/python.log" 2>&1
  local rc=$?
  cat "$OUT/python.log"
  if ((rc == 0)); then status[python]=ok; else status[python]=FAIL; fi
  detail[python]="$(grep -E '^gpu-python: (test|bench) ' "$OUT/python.log" | sed 's/^gpu-python: //' | tr '\n' ';')"
}

for p in "${phases[@]}"; do
  if ! declare -F "phase_$p" >/dev/null; then
    echo "gpu-check: unknown phase '$p' (build test sweep bench torch decode tune sm90 python)" >&2; exit 2
  fi
  start=$SECONDS
  "phase_$p"
  echo "gpu-check: phase $p took $((SECONDS - start)) s"
done

say "summary"
rc=0
printf '%-8s %-6s %s\n' phase result detail
for p in "${phases[@]}"; do
  [[ -n "${status[$p]:-}" ]] || continue
  printf '%-8s %-6s %s\n' "$p" "${status[$p]}" "${detail[$p]:-}"
  [[ ${status[$p]} == ok ]] || rc=1
done
if [[ -s "$OUT/sm90-grid.txt" ]]; then
  echo; echo "sm90 grid ($OUT/sm90-grid.txt):"; cat "$OUT/sm90-grid.txt"
fi
if [[ -s "$OUT/compare.json" ]]; then
  python3 - "$OUT/compare.json" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))["rows"]
def fmt(v): return "-" if v is None else f"{v:.2f}"
print(f"\n{'dtype':5} {'hd':>4} {'mask':7} {'seqlen':>6} {'attnjit':>8} {'flash':>8} {'cudnn':>8} {'/flash':>7} {'/cudnn':>7}  (TFLOP/s)")
for r in rows:
    a, f, c = r.get("attnjit"), r.get("flash"), r.get("cudnn")
    print(f"{r['dtype']:5} {r['head_dim']:>4} {r['mask']:7} {r['seqlen']:>6} {fmt(a):>8} {fmt(f):>8} {fmt(c):>8} "
          f"{fmt(a / f if a and f else None):>7} {fmt(a / c if a and c else None):>7}")
PY
fi
exit $rc
