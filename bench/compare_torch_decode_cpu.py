#!/usr/bin/env python3
"""CPU decode: attnjit next to PyTorch's CPU SDPA on the same shapes, in the same run.

One query token per sequence, head dim 128, 32 query heads, contiguous cache; grid batch x KV
length x GQA group. The metric is K+V bytes read per second (GB/s = 1e9 B/s) and its fraction of
the machine's read bandwidth, which `attnjit bench-decode --backend cpu --json` measures first.
attnjit times each launch from cold caches (it evicts them first); the torch side does the same
(reads twice the last-level cache, at least 256 MiB, before each timed call, leaving clean lines, as attnjit does), runs with torch.set_num_threads(--threads),
and calls F.scaled_dot_product_attention(q, k, v) on contiguous [b, h, s, d] K/V (torch's
fastest layout) with each GQA group folded into query rows (faster than its enable_gqa path). Median of --reps calls.
Both sides put their large buffers on huge pages: attnjit's CPU backend does by default
(runtime/host_pages.h), and PyTorch's CPU allocator does when C10_THP_MEM_ALLOC_ENABLE=1
(THP_MEM_ALLOC_ENABLE=1 before PyTorch 2.4), which this script sets before importing torch unless
the caller set it.

Usage: python3 bench/compare_torch_decode_cpu.py --attnjit build/bin/attnjit --threads 2 [--markdown]
"""
import argparse
import json
import os
import statistics
import subprocess
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--attnjit", default="build/bin/attnjit")
    ap.add_argument("--dtype", default="bf16", choices=["bf16", "f32"])
    ap.add_argument("--batch", default="1")
    ap.add_argument("--kv-len", default="8192,32768")
    ap.add_argument("--gqa", default="1,4,8")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--heads-q", type=int, default=32)
    ap.add_argument("--head-dim", type=int, default=128)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()

    cmd = [a.attnjit, "bench-decode", "--backend", "cpu", "--json", "--dtype", a.dtype, "--head-dim", str(a.head_dim),
           "--heads-q", str(a.heads_q), "--batch", a.batch, "--kv-len", a.kv_len, "--gqa", a.gqa,
           "--threads", str(a.threads), "--warmup", "1", "--reps", str(a.reps)]
    ours = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    bw = ours["read_bandwidth_gbps"]

    for var in ("C10_THP_MEM_ALLOC_ENABLE", "THP_MEM_ALLOC_ENABLE"):  # read when libc10 loads
        os.environ.setdefault(var, "1")
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(a.threads)
    dt = {"bf16": torch.bfloat16, "f32": torch.float32}[a.dtype]
    # As many bytes as attnjit's eviction reads (twice the last-level cache, at least 256 MiB).
    junk = torch.ones(ours.get("eviction_bytes", 256 << 20), dtype=torch.uint8)
    rows = []
    for r in ours["results"]:
        b, n, g = r["batch"], r["kv_len"], r["gqa"]
        hkv = a.heads_q // g
        # The GQA group folded into query rows (q heads h*g..h*g+g-1 -> rows of KV head h): torch's
        # fastest GQA decode on the CPU (its enable_gqa path is 10x slower there).
        q = torch.randn(b, hkv, g, a.head_dim, dtype=dt)
        # torch's own [b, h, s, d] layout (its fastest; attnjit reads the serving layout [b, s, h, d])
        k = torch.randn(b, hkv, n, a.head_dim, dtype=dt)
        v = torch.randn(b, hkv, n, a.head_dim, dtype=dt)
        F.scaled_dot_product_attention(q, k, v)
        times = []
        for _ in range(a.reps):
            junk.sum()  # a read: a write would leave dirty lines for the timed call to write back
            t0 = time.perf_counter()
            F.scaled_dot_product_attention(q, k, v)
            times.append(time.perf_counter() - t0)
        torch_gbps = r["kv_bytes"] / statistics.median(times) / 1e9
        rows.append((b, n, g, r["gbps"], torch_gbps))
        del q, k, v

    if a.markdown:
        print(f"CPU decode on {ours['device']}, {a.threads} thread(s), {a.dtype}, head dim {a.head_dim}, "
              f"{a.heads_q} query heads; read bandwidth {bw:.1f} GB/s (measured in the same run)\n")
        print("| batch | kv len | GQA | attnjit GB/s | of bw | torch SDPA GB/s | of bw | attnjit / torch |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for b, n, g, ours_gbps, t in rows:
            print(f"| {b} | {n} | {g} | {ours_gbps:.1f} | {ours_gbps / bw:.2f} | {t:.1f} | {t / bw:.2f} | {ours_gbps / t:.2f}x |")
    else:
        print(json.dumps({"read_bandwidth_gbps": bw, "attnjit": ours,
                          "rows": [dict(batch=b, kv_len=n, gqa=g, attnjit_gbps=o, torch_gbps=t) for b, n, g, o, t in rows]},
                         indent=2))


if __name__ == "__main__":
    main()
