#!/usr/bin/env python3
"""Decode attention: attnjit next to PyTorch SDPA (flash, cuDNN) and the copy ceiling.

One query token per sequence against a KV cache, bf16, head dim 128, 32 query heads; grid
batch {1, 8, 64} x KV length {4k, 32k, 128k} x GQA group {1, 8}. The metric is K+V bytes read
per second (GB/s = 1e9 B/s): a decode step must stream every cached key and value once, so the
device's copy bandwidth is the ceiling. Grid points whose cache would not fit (--max-gib) are
skipped for every contestant.

attnjit numbers come from `attnjit bench-decode --json` (the same grid, CUDA events, median);
torch numbers from CUDA events around torch.nn.functional.scaled_dot_product_attention under
torch.nn.attention.sdpa_kernel([backend]), median of --reps runs after --warmup. GQA uses
SDPA's enable_gqa=True (no K/V expansion, torch >= 2.5). The copy ceiling times a
device-to-device copy of a 2 GiB buffer and counts bytes read + written.

Usage: python3 bench/compare_torch_decode.py --attnjit build/bin/attnjit [--markdown]
"""
import argparse
import json
import statistics
import subprocess
import sys


def add_grid_args(ap, attnjit, gqa):
    """The options every GPU decode benchmark passes on to `attnjit bench-decode`: the executable,
    the grid (batch x KV length x GQA group), the shape of a point, the memory cap and the timing."""
    ap.add_argument("--attnjit", default=attnjit, help="the attnjit executable")
    ap.add_argument("--batch", default="1,8,64")
    ap.add_argument("--kv-len", default="4096,32768,131072")
    ap.add_argument("--gqa", default=gqa)
    ap.add_argument("--heads-q", type=int, default=32)
    ap.add_argument("--head-dim", type=int, default=128)
    ap.add_argument("--max-gib", type=float, default=24.0)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--reps", type=int, default=30)


def parse_list(s):
    return [int(x) for x in s.split(",") if x]


def time_cuda(torch, fn, warmup, reps):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def copy_ceiling(torch, warmup, reps):
    n = 1 << 30  # 2 GiB of bf16
    src = torch.empty(n, dtype=torch.bfloat16, device="cuda")
    dst = torch.empty_like(src)
    ms = time_cuda(torch, lambda: dst.copy_(src), warmup, reps)
    return 2 * src.numel() * src.element_size() / (ms * 1e-3) / 1e9


def torch_decode(torch, backend, batch, kv_len, heads_q, group, head_dim, warmup, reps):
    from torch.nn.attention import SDPBackend, sdpa_kernel
    import torch.nn.functional as F

    heads_kv = heads_q // group
    q = torch.randn(batch, heads_q, 1, head_dim, dtype=torch.bfloat16, device="cuda")
    k = torch.randn(batch, heads_kv, kv_len, head_dim, dtype=torch.bfloat16, device="cuda")
    v = torch.randn_like(k)
    kind = {"flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION}[backend]
    gqa = group > 1

    def run():
        with sdpa_kernel([kind]):
            F.scaled_dot_product_attention(q, k, v, enable_gqa=gqa)

    try:
        ms = time_cuda(torch, run, warmup, reps)
    except RuntimeError as e:  # backend refuses the shape (e.g. no GQA support)
        return None, str(e).splitlines()[0][:80]
    finally:
        del q, k, v
        torch.cuda.empty_cache()
    kv_bytes = 2 * batch * kv_len * heads_kv * head_dim * 2
    return kv_bytes / (ms * 1e-3) / 1e9, None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_grid_args(ap, attnjit="build/bin/attnjit", gqa="1,8")
    ap.add_argument("--page-size", type=int, default=0, help="attnjit's cache layout (torch is always contiguous)")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    a = ap.parse_args()

    cmd = [a.attnjit, "bench-decode", "--backend", "cuda", "--json", "--dtype", "bf16",
           "--head-dim", str(a.head_dim), "--heads-q", str(a.heads_q), "--batch", a.batch,
           "--kv-len", a.kv_len, "--gqa", a.gqa, "--page-size", str(a.page_size),
           "--max-gib", str(a.max_gib), "--warmup", str(a.warmup), "--reps", str(a.reps)]
    ours = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    by_key = {(r["batch"], r["kv_len"], r["gqa"]): r for r in ours["results"]}

    import torch
    ceiling = copy_ceiling(torch, a.warmup, a.reps)
    rows = []
    for g in parse_list(a.gqa):
        for b in parse_list(a.batch):
            for n in parse_list(a.kv_len):
                r = by_key[(b, n, g)]
                row = {"batch": b, "kv_len": n, "gqa": g}
                if "skipped" in r:
                    row["skipped"] = r["skipped"]
                else:
                    row["attnjit"] = r["gbps"]
                    row["config"] = r["config"]
                    row["splits"] = r["splits"]
                    for be in ("flash", "cudnn"):
                        gbps, why = torch_decode(torch, be, b, n, a.heads_q, g, a.head_dim, a.warmup, a.reps)
                        row[be] = gbps
                        if why:
                            row[be + "_error"] = why
                rows.append(row)

    device = torch.cuda.get_device_name()
    if a.markdown:
        print(f"Decode on {device}: bf16, head dim {a.head_dim}, {a.heads_q} query heads, 1 token, "
              f"page size {a.page_size}; K+V GB/s (copy ceiling {ceiling:.0f} GB/s read+write)\n")
        print("| batch | kv len | GQA | attnjit | config / splits | torch flash | cuDNN |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        fmt = lambda x: "n/a" if x is None else f"{x:.0f}"
        for r in rows:
            if "skipped" in r:
                print(f"| {r['batch']} | {r['kv_len']} | {r['gqa']} | skipped ({r['skipped']}) | | | |")
            else:
                print(f"| {r['batch']} | {r['kv_len']} | {r['gqa']} | {fmt(r['attnjit'])} | "
                      f"{r['config']} / {r['splits']} | {fmt(r.get('flash'))} | {fmt(r.get('cudnn'))} |")
    else:
        json.dump({"device": device, "copy_ceiling_gbps": ceiling, "attnjit": ours, "rows": rows},
                  sys.stdout, indent=2)
        print()


if __name__ == "__main__":
    main()
