#!/bin/bash
# dump_decode_ptx.sh BIN OUTDIR: the PTX of a grid of decode keys (defaults and three explicit
# configs: tensor cores, scalar 4 and 2 rows), sm_80 and sm_90a, one file per (key, arch,
# config) — run before and after a template change, then scripts/compare_ptx.sh BEFORE AFTER.
BIN=$1; OUT=$2; mkdir -p "$OUT"
keys="decode_bf16_hd128_none_g1_q1_k32768_p0 decode_bf16_hd128_none_g8_q1_k32768_p16
decode_f16_hd64_causal_g4_q4_k4096_p0 decode_bf16_hd128_sw256-0_g2_q1_k4096_p1
decode_bf16_hd128_none_g8_q1_k32768_p16_kv-e4m3 decode_f16_hd128_causal_g4_q2_k8192_p256_kv-e5m2
decode_bf16_hd256_none_g1_q1_k4096_p0 decode_f16_hd32_causal_g2_q2_k4096_p0
decode_bf16_hd128_none_sc50_g4_q1_k4096_p0 decode_bf16_hd64_causal_g1_q16_k1024_p32"
for arch in sm_80 sm_90a; do for p in $keys; do
  "$BIN" compile --problem "$p" --arch $arch --emit ptx > "$OUT/${p}_${arch}.ptx" 2>&1
  for cfg in bm16_bn32_w2_s2 bm4_bn32_w4_s3 bm2_bn64_w8_s2; do  # configs a key cannot take: the error text
    "$BIN" compile --problem "$p" --arch $arch --template sm80 --config $cfg --emit ptx > "$OUT/${p}_${arch}_${cfg}.ptx" 2>&1
  done
done; done
