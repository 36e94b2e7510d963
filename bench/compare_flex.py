#!/usr/bin/env python3
"""PyTorch FlexAttention (torch.compile -> Triton) on masks beyond causal, for issue 18's goal
(attnjit's sliding window >= 1.5x FlexAttention's effective rate). A benchmark, never a test.

    python3 bench/compare_flex.py [--head-dim 128] [--seqlen 8192] [--window 1024] [--json-out F]

Shapes as `attnjit bench`: 16k tokens per call (batch = 16384 / seqlen), hidden 2048 (heads =
2048 / head dim), bf16, BSHD data handed to flex as [B, H, S, D] views. Masks, bottom-right
aligned like attnjit's (equal lengths, so top-left too): causal; sliding window = causal with
the last `window` keys before the query also visible (attnjit's sw<window>-0); documents = equal
blocks of `doc` tokens that see only their own block (attnjit: a mask_mod `q_idx / doc ==
kv_idx / doc`, block-sparse). Effective TFLOP/s = 4*B*H*D*(visible pairs) / time, median of
CUDA-event timings after warm-up (the Triton compile happens in the warm-up). Exit status 77
with a printed reason when there is no CUDA device or no FlexAttention.
"""

import argparse
import json
import statistics
import sys

SKIP = 77


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--head-dim", type=int, default=128)
    ap.add_argument("--seqlen", type=int, default=8192)
    ap.add_argument("--window", type=int, default=1024)
    ap.add_argument("--doc", type=int, default=1024, help="document length of the document mask")
    ap.add_argument("--total-tokens", type=int, default=16384)
    ap.add_argument("--hidden", type=int, default=2048)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--json-out")
    a = ap.parse_args()
    try:
        import torch
        from torch.nn.attention.flex_attention import create_block_mask, flex_attention
    except ImportError as e:
        print(f"compare_flex: skipped: no torch FlexAttention ({e})")
        return SKIP
    if not torch.cuda.is_available():
        print("compare_flex: skipped: no CUDA device")
        return SKIP
    S, D = a.seqlen, a.head_dim
    B, H = max(1, a.total_tokens // S), a.hidden // D
    W, DOC = a.window, a.doc
    dev = "cuda"
    g = torch.Generator(device=dev).manual_seed(0)
    q, k, v = (torch.randn(B, S, H, D, device=dev, dtype=torch.bfloat16, generator=g).transpose(1, 2) for _ in range(3))

    def causal(b, h, qi, ki):
        return qi >= ki

    def window(b, h, qi, ki):
        return (qi >= ki) & (qi - ki <= W)

    def documents(b, h, qi, ki):
        return (qi // DOC) == (ki // DOC)

    def pairs_causal():
        return S * (S + 1) // 2

    def pairs_window():
        return sum(min(i + 1, W + 1) for i in range(S))

    def pairs_docs():
        full, rest = divmod(S, DOC)
        return full * DOC * DOC + rest * rest

    flex = torch.compile(flex_attention, dynamic=False)
    rows = []
    for name, mod, pairs in (("causal", causal, pairs_causal()), (f"window{W}", window, pairs_window()),
                             (f"documents{DOC}", documents, pairs_docs())):
        bm = create_block_mask(mod, None, None, S, S, device=dev)
        fn = lambda: flex(q, k, v, block_mask=bm)  # noqa: E731
        for _ in range(a.warmup):
            fn()
        torch.cuda.synchronize()
        t = []
        for _ in range(a.reps):
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            fn()
            e.record()
            e.synchronize()
            t.append(s.elapsed_time(e))
        ms = statistics.median(t)
        tf = 4.0 * B * H * D * pairs / (ms * 1e-3) / 1e12
        rows.append({"mask": name, "median_ms": ms, "visible_pairs": pairs, "effective_tflops": tf})
        print(f"flex  bf16 hd{D} S{S} B{B} H{H} {name:<14} {ms:8.3f} ms  {tf:7.1f} effective TFLOP/s", flush=True)
    out = {"torch": torch.__version__, "device": torch.cuda.get_device_name(), "head_dim": D, "seqlen": S,
           "batch": B, "heads": H, "results": rows}
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
