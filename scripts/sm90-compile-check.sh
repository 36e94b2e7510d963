#!/usr/bin/env bash
# Cold NVRTC cost and PTX of the sm90 prefill template, for compile-time work that must not
# change the generated code: one fresh `attnjit compile` process per kernel (bf16; the default
# config of every head dim with masks none and causal, plus non-default configs), printing wall
# and CPU milliseconds, and writing each kernel's PTX to OUTDIR/<name>.ptx. Compare two trees'
# dumps with `diff -r` (the PTX carries no paths or dates).
#   scripts/sm90-compile-check.sh OUTDIR [path/to/attnjit]
set -euo pipefail
out=${1:?usage: scripts/sm90-compile-check.sh OUTDIR [attnjit binary]}
bin=${2:-build/bin/attnjit}
[ -x "$bin" ] || { echo "sm90-compile-check: $bin is not an executable (build attnjit-cli)" >&2; exit 2; }
mkdir -p "$out"
run() {  # problem key, config key ("" = the template's default)
  local problem=$1 config=$2 args=(--problem "$1" --arch sm_90a --template sm90)
  [ -n "$config" ] && args+=(--config "$config")
  local name="${problem}__${config:-default}"
  local report
  report=$("$bin" compile "${args[@]}")
  "$bin" compile "${args[@]}" --emit ptx > "$out/$name.ptx"
  printf '%-52s %-40s %s\n' "$problem" "${config:-default}" "$(grep '^compile' <<<"$report" | sed 's/^compile *//')"
}
for hd in 64 96 128 192 256; do
  for mask in none causal; do run "prefill_bf16_hd${hd}_${mask}_g1_q4096_k4096" ""; done
done
run prefill_f16_hd128_sw256-0_g1_q4096_k4096 ""
run prefill_bf16_hd192_causal_sc30_g1_q4096_k4096 ""
run prefill_bf16_hd64_causal_g1_q4096_k4096 sm90_bm192_bn128_w4_s2_wg3_pp1
run prefill_bf16_hd128_none_g1_q4096_k4096 sm90_bm128_bn176_w4_s2_wg2
run prefill_bf16_hd128_causal_g1_q4096_k4096 sm90_bm128_bn128_w4_s3_wg2_pp1_ov1_ps1
run prefill_bf16_hd192_none_g1_q4096_k4096 sm90_bm128_bn64_w4_s2_wg2_pp1_ps1
