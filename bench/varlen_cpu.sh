#!/usr/bin/env bash
# Issue 18's varlen goal on the CPU backend: one varlen (packed) call over sequences of mixed
# lengths runs at >= 0.9x the rate of the same tokens as separate equal-length calls (one dense
# call per sequence, same kernel family, same FLOP count). Prints one Markdown row per run and
# mask: the ratio is separate_ms / varlen_ms (`attnjit bench --seqlens`, cli/bench_varlen.cpp).
# Also the paged variant (K/V through a shuffled block table) against the same separate calls.
# The machine is shared: read the numbers with the load average printed next to them.
#
#   bench/varlen_cpu.sh                      # 3 runs, mixed lengths 300,1024,77,512,1,200
#   RUNS=5 SEQLENS=2048,100,700 PAGE=16 bench/varlen_cpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
BIN=${ATTNJIT:-$BUILD_DIR/bin/attnjit}
RUNS=${RUNS:-3}
SEQLENS=${SEQLENS:-300,1024,77,512,1,200}
PAGE=${PAGE:-16}
HD=${HD:-64}
HIDDEN=${HIDDEN:-512}
[ -x "$BIN" ] || { echo "varlen_cpu.sh: $BIN not built (cmake --build $BUILD_DIR --target attnjit-cli)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "varlen_cpu.sh: python3 needed to read the JSON" >&2; exit 2; }
echo "| run | layout | mask | config | varlen ms | separate ms | GFLOP/s | ratio | load |"
echo "|---|---|---|---|---|---|---|---|---|"
for run in $(seq 1 "$RUNS"); do
  for page in 0 "$PAGE"; do
    out=$("$BIN" bench --backend cpu --dtype f32 --head-dim "$HD" --hidden "$HIDDEN" --mask none,causal \
          --seqlens "$SEQLENS" --page-size "$page" --warmup 2 --reps 7 --json)
    load=$(cut -d' ' -f1 /proc/loadavg)
    python3 -c '
import json, sys
j = json.loads(sys.argv[1])
layout = "varlen" if j["page_size"] == 0 else "varlen+paged%d" % j["page_size"]
for r in j["results"]:
    print("| %s | %s | %s | %s | %.3f | %.3f | %.1f | %.3f | %s |" % (sys.argv[2], layout, r["mask"], r["config"],
          r["varlen_ms"], r["separate_ms"], r["gflops"], r["ratio"], sys.argv[3]))
' "$out" "$run" "$load"
  done
done
