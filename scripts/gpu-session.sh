#!/usr/bin/env bash
# One device call over binaries built on the development machine by scripts/gpu-prebuild.sh
# (carry build-slim and .carry). Each phase is bounded by a time limit and skipped when the
# call's DEADLINE (seconds) is near, so the call ends on time and returns what it did; every log
# and JSON goes to $OUT/logs.tgz, a short table prints last. This is how the H200 run of
# 2026-12-04 was made (bench/RESULTS.md section 0), in three calls of 101-224 s.
#
#   DEADLINE=380 PHASES="probes sm90t vart bench varbench regress decode" bash scripts/gpu-session.sh
#
# Phases (run in the order PHASES lists them):
#   probes    scripts/gpu-probes/run.sh: layout probes vs the emulator's goldens, the FA3-shaped
#             kernel vs float64, compute-sanitizer
#   sm90t     the sm90 GPU tests (tests/gpu/prefill_sm90_test.cpp): the smallest first; the rest
#             (and the sm90 bench) only when it passes
#   vart      the variants on the GPU (tests/gpu/prefill_variants_test.cpp)
#   bench     attnjit bench --template sm80 and sm90 on the FlashAttention grid, then
#             bench/compare_sm90.py with torch flash / cuDNN (SM80_JSON=file reuses an sm80 run)
#   varbench  ALiBi, sinks, a sliding window and one varlen batch against causal (hd 128, 8k)
#   regress   the sm80 prefill, decode and backend GPU suites (REGRESS_RE overrides the ctest -R)
#   decode    bench/decode_grid.py, one call per cache variant (DECODE_VARIANTS, default bf16 e4m3
#             bf16-p16 e4m3-p16; DECODE_GQA, default 1,8)
#   tune90    opt-in: attnjit tune, exhaustive over the sm90 and sm80 spaces, at TUNE_KEYS (default: bf16
#             8k, hd 128 none/causal/sw1024-0, hd 64 and 256 none); events in tune90.jsonl, the
#             database in tune90.db (bench/tune_table.py makes the RESULTS table)
#   varbench2 opt-in: issue 18's GPU masks at hd 128, 8k: causal and sw1024-0 on sm90 and sm80, a
#             document mask (8 x 1024, a mask_mod, block-sparse at tile 128) on sm80 with its causal,
#             and PyTorch FlexAttention on the same masks (bench/compare_flex.py)
#   short90   opt-in: sm90 configs at 512 / 1k / 2k tokens (hd 64 and 128, none and causal): the
#             defaults against the persistent kernel with and without its separate O buffer
#             (ps1 / ps2), one JSON per config (short90-<hd>-<config>.json); hd 128's also on a
#             sliding window 1024 at 8k (short90-sw-<config>.json: a CTA sees ~9 key tiles there too)
#   masks80   opt-in: issue 18's sm80 goal (masks >= 0.9x the sm80 causal rate per visible pair):
#             causal, sw1024-0, sw128-0 and the document mask (mask_mod, block-sparse 128) at hd 128,
#             8k on each of the masked configs bm64_bn128_w4_s1 (the sm_90a default) and
#             bm128_bn128_w8_s1, and (masks only) with end-aligned key tiles (_o1) and per-warp key
#             skipping (_o2)
#   var90     opt-in: ALiBi, sinks (bf16 hd 64/128/256, 8k, none/causal) and one varlen batch (hd 128,
#             causal; contiguous and pages of 16) and a document mask (mask_mod, block-sparse 128; hd 128,
#             8k) on the sm90 template against sm80 (their default until the sm90 GPU tests
#             Sm90Prefill.AlibiAndSinks, VariantsGpu.VarlenAndPagedOnSm90 and .UserModsAndBlockSparseOnSm90 pass)
#   pass90    opt-in: sm90 config order 1 (a consumer passes through the key tiles its rows cannot
#             see) against the same config without it, where the grid is furthest below cuDNN: hd 256
#             causal 512-2k (80-key tiles), hd 192 causal 512-1k (112), hd 64 causal 4k-8k (three
#             consumers); one JSON per config (pass90-<hd>-<config>.json)
#   next90    opt-in: sm90 persistent 3 (the next tile's first S GEMM during this tile's epilogue)
#             against persistent 2, the same config otherwise, where the grid's short points sit
#             below cuDNN: hd 128 none (ping-pong on) and causal, hd 64 causal 512-2k (with the
#             overlap, and without it: hd 64's causal default s3_wg2, s3_wg2_pp1 none), a 1024-key
#             window at 8k (ping-pong off: ps3 refuses it under a mask); two alternating rounds,
#             one JSON per config and round (next90-<round>-<hd>-<mask>-<config>.json)
#   decodeab  opt-in: issue 19's batch-1 GQA 8 (hd 128, 32 query heads, 32k and 128k, bf16 and e4m3):
#             the two-level split combine against one level (bench-decode --one-level-combine), two
#             alternating rounds in one process each (decodeab.log: splits/group, ms, GB/s); then
#             e4m3 at 3-4 CTAs per SM (stages 2 / block_n 16) and bf16 at 8 warps or 2 stages
#   python    opt-in: scripts/gpu-python.sh — builds the Python module there from CMake (the
#             device's own Python and torch; .carry from scripts/gpu-carry.sh, no build-slim
#             needed), runs the CUDA pytest tests and times the end-to-end goal
#             (bench/python_gpu_e2e.py); alone: DEADLINE=420 PHASES=python
set -u
T0=$SECONDS
R=$PWD
O=${OUT:-/tmp/out}
L=/tmp/logs; rm -rf $L; mkdir -p $L "$O"
DEADLINE=${DEADLINE:-380}
PHASES=${PHASES:-"probes sm90t vart bench varbench regress decode"}
# ctest's files name /work/main/build-gpu/...: recreate those paths over this copy of the tree.
mkdir -p /work; [ -e /work/main ] || ln -s "$R" /work/main
cd /work/main || exit 1
if [ -d build-slim ]; then rm -rf build-gpu; mv build-slim build-gpu; fi
[ -x build-gpu/bin/attnjit ] || [ "$PHASES" = python ] || { echo "gpu-session: no build-gpu/bin/attnjit: run scripts/gpu-prebuild.sh and carry build-slim"; exit 2; }
find build-gpu -name '*_tests.cmake' -exec touch {} +
export ATTNJIT_CACHE_DIR=/tmp/ajcache PYTHONUNBUFFERED=1
ldconfig -p | grep -q libsqlite3.so.0 || export LD_LIBRARY_PATH=/work/main/.carry/lib/x86_64-linux-gnu
[ -d .carry/gpu-probes ] && touch .carry/gpu-probes/*  # newer than the sources: run.sh uses them
left() { echo $(( DEADLINE - (SECONDS - T0) )); }
declare -A st
run() {  # run NAME MIN_SECONDS MAX_SECONDS cmd...: skipped when fewer than MIN seconds are left
  local n=$1 min=$2 max=$3; shift 3
  local l; l=$(left)
  if (( l < min )); then st[$n]="skipped (${l}s left)"; echo "=== $n skipped"; return; fi
  (( max > l - 5 )) && max=$(( l - 5 ))
  echo "=== $n (limit ${max}s) at $((SECONDS - T0))s"
  local t=$SECONDS
  timeout -k 5 $max "$@" > $L/$n.log 2>&1
  st[$n]="rc=$? $((SECONDS - t))s"
}
passed() { grep -q "100% tests passed" "$L/$1.log" 2>/dev/null; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv,noheader | tee $L/machine.txt
python3 -c 'import torch; print("torch", torch.__version__, "cudnn", torch.backends.cudnn.version())' >> $L/machine.txt 2>&1
CT="ctest --test-dir build-gpu --output-on-failure --timeout 170"
CLI=build-gpu/bin/attnjit

# One function per phase; they run in the order PHASES lists them (put first what matters most:
# a phase is skipped when the deadline is near).
phase_probes() { run probes 30 120 scripts/gpu-probes/run.sh $L/probes; }
phase_sm90t() {
  run sm90first 30 60 $CT --timeout 50 -R 'Sm90Prefill.OneTile'
  # The every-config tests hold order 1 too since 86bdd49 (twice the configs on causal problems).
  if passed sm90first; then run sm90t 60 ${SM90T_LIMIT:-240} $CT --timeout 170 -j4 -R 'Sm90Prefill' -E OneTile
  else NO_SM90=1; fi
}
# The sm90 variant tests compile ~80 kernels one after the other (VarlenAndPagedOnSm90, UserMods...OnSm90).
phase_vart() { run vart 30 ${VART_LIMIT:-200} $CT -j5 --timeout 190 -R 'VariantsGpu'; }
G="--dtype bf16 --head-dim 64,128,256 --mask none,causal"
phase_bench() {
  [ -n "${NO_SM90:-}" ] && { st[bench90]="skipped (sm90 tests failed)"; return; }
  if [ -n "${SM80_JSON:-}" ]; then cp "$SM80_JSON" $L/bench-sm80.json
  else run bench80 20 90 bash -c "$CLI bench --json --template sm80 $G > $L/bench-sm80.json"; fi
  run bench90 20 100 bash -c "$CLI bench --json --template sm90 $G > $L/bench-sm90.json"
  run cmp90 20 100 python3 bench/compare_sm90.py --sm80-json $L/bench-sm80.json --sm90-json $L/bench-sm90.json \
    --json-out $L/sm90-grid.json
}
B="$CLI bench --dtype bf16 --head-dim 128 --seqlen 8192"
phase_varbench() {
  run varbench 30 90 bash -c "$B --mask causal,sw1024-0; $B --mask causal --alibi; $B --mask causal --sinks;
    $CLI bench --dtype bf16 --head-dim 128 --mask causal --seqlens 300,1024,77,4096,2000,513"
}
# ALiBi, sinks and varlen on sm90 (by --template) and on sm80 (their default until a GPU has
# checked sm90: Sm90Prefill.AlibiAndSinks in sm90t, VariantsGpu.VarlenAndPagedOnSm90 in vart) in one run.
phase_var90() {
  [ -n "${NO_SM90:-}" ] && { st[var90]="skipped (sm90 tests failed)"; return; }
  echo 'return q_idx / 1024 == kv_idx / 1024;' > $L/doc1024.mm
  local V="$CLI bench --json --dtype bf16 --head-dim 64,128,256 --seqlen 8192 --mask none,causal"
  run var90 30 120 bash -c "for t in sm80 sm90; do $V --template \$t --alibi > $L/var90-alibi-\$t.json;
    $V --template \$t --sinks > $L/var90-sinks-\$t.json;
    $CLI bench --json --dtype bf16 --head-dim 128 --mask causal --seqlens 300,1024,77,4096,2000,513 --template \$t > $L/var90-varlen-\$t.json;
    $CLI bench --json --dtype bf16 --head-dim 128 --mask causal --seqlens 300,1024,77,4096,2000,513 --page-size 16 --template \$t > $L/var90-paged-\$t.json;
    $B --json --mask none --mask-mod $L/doc1024.mm --block-sparse 128 --template \$t > $L/var90-doc-\$t.json; done
    python3 -c 'import json,sys
for f in sys.argv[1:]:
  for r in json.load(open(f))[\"results\"]: print(f.split(\"/\")[-1], r[\"head_dim\"], r[\"mask\"], r[\"config\"],
    (\"%.1f TFLOP/s\" % r[\"tflops\"]) if \"tflops\" in r else (\"varlen %.3f ms, ratio %.2f\" % (r[\"varlen_ms\"], r[\"ratio\"])))' $L/var90-*.json"
}
phase_regress() { run regress 40 150 $CT -j8 -R "${REGRESS_RE:-PrefillTest.*/cuda|PrefillConfigsTest.*/cuda|DecodeGpu|DecodeFp8\.Gpu|CudaBackend}"; }
phase_decode() {
  for v in ${DECODE_VARIANTS:-bf16 e4m3 bf16-p16 e4m3-p16}; do  # torch timed once, in the bf16 call
    run decode-$v 30 70 python3 bench/decode_grid.py --attnjit $CLI --kv-len 32768,131072 --gqa ${DECODE_GQA:-1,8} --reps 20 \
      --variants $v --json-out $L/decode-$v.json $([ $v = bf16 ] || echo --no-torch)
  done
}
phase_varbench2() {
  echo 'return q_idx / 1024 == kv_idx / 1024;' > $L/doc1024.mm
  run varbench2 30 80 bash -c "$B --json --template sm90 --mask causal,sw1024-0 > $L/vb2-sm90.json;
    $B --json --template sm80 --mask causal,sw1024-0 > $L/vb2-sm80.json;
    $B --json --mask none --mask-mod $L/doc1024.mm --block-sparse 128 > $L/vb2-doc.json"
  run flex 30 120 python3 bench/compare_flex.py --json-out $L/flex.json
}
phase_short90() {
  local S="--json --dtype bf16 --seqlen 512,1024,2048 --mask none,causal"
  run short90 30 ${SHORT_LIMIT:-150} bash -c "
    for c in sm90_bm128_bn128_w4_s3_wg2_pp1_ov1 sm90_bm128_bn128_w4_s2_wg2_pp1_ov1_ps1 \
             sm90_bm128_bn128_w4_s2_wg2_pp1_ov1_ps2 sm90_bm128_bn128_w4_s2_wg2_pp1_ps2; do
      $CLI bench $S --head-dim 128 --config \$c > $L/short90-128-\$c.json || echo \"failed: 128 \$c\"
      $CLI bench --json --dtype bf16 --seqlen 8192 --mask sw1024-0 --head-dim 128 --config \$c \
        > $L/short90-sw-\$c.json || echo \"failed: sw \$c\"; done
    for c in sm90_bm192_bn128_w4_s2_wg3 sm90_bm128_bn128_w4_s3_wg2_ps1 sm90_bm128_bn128_w4_s3_wg2_ps2 \
             sm90_bm192_bn128_w4_s2_wg3_ps2 sm90_bm128_bn128_w4_s2_wg2_pp1_ov1_ps2; do
      $CLI bench $S --head-dim 64 --config \$c > $L/short90-64-\$c.json || echo \"failed: 64 \$c\"; done"
}
phase_masks80() {
  echo 'return q_idx / 1024 == kv_idx / 1024;' > $L/doc1024.mm
  run masks80 30 200 bash -c "for c in bm64_bn128_w4_s1 bm64_bn128_w4_s1_o1 bm64_bn128_w4_s1_o2 bm128_bn128_w8_s1 bm128_bn128_w8_s1_o2; do
    $B --json --config sm80_\$c --mask causal,sw1024-0,sw128-0 > $L/vb2-m80-\$c.json;
    case \$c in *_o[12]) continue;; esac  # end-aligned tiles: not with a block mask
    $B --json --config sm80_\$c --mask none --mask-mod $L/doc1024.mm --block-sparse 128 > $L/vb2-m80doc-\$c.json; done"
}
phase_tune90() {
  local K="prefill_bf16_hd128_none_g1_q8192_k8192_even prefill_bf16_hd128_causal_g1_q8192_k8192_even
     prefill_bf16_hd128_sw1024-0_g1_q8192_k8192_even prefill_bf16_hd64_none_g1_q8192_k8192_even
     prefill_bf16_hd256_none_g1_q8192_k8192_even"
  run tune90 60 ${TUNE_LIMIT:-240} bash -c "$CLI tune --backend gpu --strategy exhaustive --measure-seconds 0.2 \
    --db $L/tune90.db --json --problem ${TUNE_KEYS:-$(echo $K)} > $L/tune90.jsonl"
}
phase_pass90() {
  run pass90 30 ${PASS90_LIMIT:-150} bash -c "
    for c in sm90_bm128_bn80_w4_s2_wg2_pp1 sm90_bm128_bn80_w4_s2_o1_wg2_pp1; do
      $CLI bench --json --dtype bf16 --head-dim 256 --mask causal --seqlen 512,1024,2048 --config \$c > $L/pass90-256-\$c.json || echo \"failed: 256 \$c\"; done
    for c in sm90_bm128_bn112_w4_s2_wg2_ov1 sm90_bm128_bn112_w4_s2_o1_wg2_ov1; do
      $CLI bench --json --dtype bf16 --head-dim 192 --mask causal --seqlen 512,1024 --config \$c > $L/pass90-192-\$c.json || echo \"failed: 192 \$c\"; done
    for c in sm90_bm192_bn128_w4_s2_wg3 sm90_bm192_bn128_w4_s2_o1_wg3; do
      $CLI bench --json --dtype bf16 --head-dim 64 --mask causal --seqlen 4096,8192 --config \$c > $L/pass90-64-\$c.json || echo \"failed: 64 \$c\"; done"
}
phase_next90() {
  run next90 30 ${NEXT90_LIMIT:-240} bash -c "
    for round in 1 2; do
      for ps in ps2 ps3; do
        c=sm90_bm128_bn128_w4_s2_wg2_pp1_ov1_\$ps
        $CLI bench --json --dtype bf16 --head-dim 128 --mask none --seqlen 512,1024,2048 --config \$c > $L/next90-\$round-128-none-\$c.json || echo \"failed: 128 none \$c\"
        c=sm90_bm128_bn128_w4_s2_wg2_ov1_\$ps
        $CLI bench --json --dtype bf16 --head-dim 128 --mask causal --seqlen 512,1024,2048 --config \$c > $L/next90-\$round-128-causal-\$c.json || echo \"failed: 128 causal \$c\"
        c=sm90_bm128_bn128_w4_s2_wg2_ov1_\$ps
        $CLI bench --json --dtype bf16 --head-dim 64 --mask causal --seqlen 512,1024,2048 --config \$c > $L/next90-\$round-64-causal-\$c.json || echo \"failed: 64 \$c\"
        $CLI bench --json --dtype bf16 --head-dim 128 --mask sw1024-0 --seqlen 8192 --config \$c > $L/next90-\$round-128-sw-\$c.json || echo \"failed: sw \$c\"
        c=sm90_bm128_bn128_w4_s3_wg2_\$ps
        $CLI bench --json --dtype bf16 --head-dim 64 --mask causal --seqlen 512,1024,2048 --config \$c > $L/next90-\$round-64-causal-\$c.json || echo \"failed: 64 \$c\"
        c=sm90_bm128_bn128_w4_s3_wg2_pp1_\$ps
        $CLI bench --json --dtype bf16 --head-dim 64 --mask none --seqlen 512,1024,2048 --config \$c > $L/next90-\$round-64-none-\$c.json || echo \"failed: 64 none \$c\"; done; done"
}
phase_decodeab() {
  local D="$CLI bench-decode --backend cuda --dtype bf16 --head-dim 128 --heads-q 32 --batch 1 --gqa 8 --kv-len 32768,131072 --reps 30"
  run decodeab 30 120 bash -c "for round in 1 2; do for kv in same e4m3; do
      echo \"--- round \$round kv \$kv two levels\"; $D --kv-dtype \$kv | tail -2
      echo \"--- round \$round kv \$kv one level\"; $D --kv-dtype \$kv --one-level-combine | tail -2; done; done
    for c in bm16_bn32_w4_s2_v8 bm16_bn16_w4_s3_v8; do echo \"--- kv e4m3 config \$c\"; $D --kv-dtype e4m3 --config sm80_\$c | tail -2; done
    for c in bm16_bn16_w8_s3_v8 bm16_bn16_w4_s2_v8; do echo \"--- kv same config \$c\"; $D --config sm80_\$c | tail -2; done"
}
phase_python() {  # the build and the tests, then the benchmarks, each within its own limit
  run python 60 ${PY_TEST_LIMIT:-360} env LOG_DIR=$L/python bash scripts/gpu-python.sh build test
  run pybench 30 ${PY_BENCH_LIMIT:-120} env LOG_DIR=$L/python bash scripts/gpu-python.sh bench
}
for ph in $PHASES; do
  if declare -F "phase_$ph" > /dev/null; then "phase_$ph"; else echo "gpu-session: unknown phase '$ph'"; fi
done
tar czf "$O/logs.tgz" -C /tmp logs 2>/dev/null

echo; echo "=== details"
for n in probes sm90first sm90t vart regress; do
  [ -f $L/$n.log ] || continue
  echo "--- $n"; grep -E "tests passed|tests failed|matches|DIFFERS|PASS|FAIL|clean|ERRORS|Failed|Timeout" $L/$n.log |
    grep -v "^ *[0-9]*/[0-9]* Test.*Passed" | head -25
done
[ -f $L/sm90first.log ] && ! passed sm90first && grep -vE "^\[ (RUN|  +OK) |^ *$" $L/sm90first.log | head -60
[ -f $L/sm90t.log ] && grep -E "Failure|Expected|Which is|served|prepare failed|run failed" $L/sm90t.log | head -30
for f in $L/vb2-*.json $L/pass90-*.json $L/next90-*.json; do [ -s "$f" ] && python3 -c 'import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(sys.argv[1].split("/")[-1], r["mask"], r["seqlen"], r["config"], "%.3f ms" % r["median_ms"], "%.1f TFLOP/s" % r["tflops"])' "$f"; done
for n in bench80 bench90 varbench varbench2 masks80 pass90 next90 var90 flex; do [ -f $L/$n.log ] && { echo "--- $n"; tail -8 $L/$n.log; }; done
[ -f $L/cmp90.log ] && head -50 $L/cmp90.log
for v in bf16 e4m3 bf16-p16 e4m3-p16; do [ -f $L/decode-$v.log ] && head -20 $L/decode-$v.log; done
[ -f $L/decodeab.log ] && { echo "--- decodeab"; cat $L/decodeab.log; }
for n in python pybench; do [ -f $L/$n.log ] && { echo "--- $n"; grep -E "^(gpu-python|FAILED|ERROR|SKIPPED)|ratio|attnjit\.|torch\.ops|goal|overhead|µs|us " $L/$n.log | head -40; }; done
echo; echo "=== summary ($((SECONDS - T0))s)"
[ -f $L/tune90.jsonl ] && { echo "--- tune90"; grep '"problem_done"' $L/tune90.jsonl | head -10; }
for n in probes sm90first sm90t vart bench80 bench90 cmp90 varbench regress decode-bf16 decode-e4m3 decode-bf16-p16 decode-e4m3-p16 varbench2 masks80 pass90 next90 var90 flex tune90 decodeab python pybench; do
  [ -n "${st[$n]:-}" ] && printf '%-16s %s\n' $n "${st[$n]}"
done
exit 0
