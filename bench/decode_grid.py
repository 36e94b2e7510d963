#!/usr/bin/env python3
"""The decode grid of issue #19 on a GPU: attnjit against the copy ceiling and PyTorch SDPA.

Grid: batch {1, 8, 64} x GQA group {1, 4, 8} x KV length {4k, 32k, 128k} (32 query heads, head
dim 128, bf16 queries), each point for every attnjit cache variant: contiguous and paged (16-token
pages, shuffled), K/V in bf16 and in fp8 (e4m3, one scale per tensor). attnjit numbers come from
`attnjit bench-decode --json` (CUDA events, median), one call per variant; torch SDPA (flash and
cuDNN, contiguous bf16 BHSD, enable_gqa) and the copy ceiling (a 2 GiB device-to-device copy,
read + write) from bench/compare_torch_decode.py's timers in this process.

Metric: K+V bytes read per second, counting the bytes each variant stores (fp8: one per element).
Points whose K+V is at least --latency-mib (256 MiB) are memory-bound: the table prints their
fraction of the copy ceiling (issue #19's goal: >= 0.9). Smaller points are launch- or L2-bound:
the table prints their latency in us next to cuDNN's (goal: <= cuDNN's).

Usage: python3 bench/decode_grid.py --attnjit build-gpu/bin/attnjit [--json-out F] [--dry-run]
--dry-run prints the attnjit commands and the grid without a GPU.
"""
import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_torch_decode import add_grid_args, copy_ceiling, torch_decode  # noqa: E402 (stdlib-only at import)

VARIANTS = {  # name -> (page size, kv dtype)
    "bf16": (0, "same"),
    "bf16-p16": (16, "same"),
    "e4m3": (0, "e4m3"),
    "e4m3-p16": (16, "e4m3"),
}


def int_list(text, name, lo, hi):
    try:
        vals = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{name}: expected comma-separated integers, got '{text}'")
    if not vals:
        raise argparse.ArgumentTypeError(f"{name}: empty list")
    for v in vals:
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"{name}: {v} is outside [{lo}, {hi}]")
    return vals


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_grid_args(ap, attnjit="build-gpu/bin/attnjit", gqa="1,4,8")
    ap.add_argument("--q-tokens", type=int, default=1)
    ap.add_argument("--variants", default=",".join(VARIANTS), help="subset of " + ", ".join(VARIANTS))
    ap.add_argument("--latency-mib", type=float, default=256.0,
                    help="points with less K+V than this are reported as latency")
    ap.add_argument("--no-torch", action="store_true", help="skip the SDPA columns")
    ap.add_argument("--json-out", help="also write every number as JSON here")
    ap.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    a = ap.parse_args(argv)
    try:
        a.batch = int_list(a.batch, "--batch", 1, 65535)
        a.gqa = int_list(a.gqa, "--gqa", 1, a.heads_q)
        a.kv_len = int_list(a.kv_len, "--kv-len", 1, 2**31 - 1)
    except argparse.ArgumentTypeError as e:
        ap.error(str(e))
    for g in a.gqa:
        if a.heads_q % g:
            ap.error(f"--gqa: {g} does not divide --heads-q {a.heads_q}")
    a.variants = [v for v in a.variants.split(",") if v]
    for v in a.variants:
        if v not in VARIANTS:
            ap.error(f"--variants: unknown variant '{v}' (allowed: {', '.join(VARIANTS)})")
    if not 1 <= a.q_tokens <= 16:
        ap.error("--q-tokens: must be in [1, 16]")
    return a


def attnjit_cmd(a, variant):
    page, kv = VARIANTS[variant]
    join = lambda xs: ",".join(str(x) for x in xs)
    return [a.attnjit, "bench-decode", "--backend", "cuda", "--json", "--dtype", "bf16",
            "--head-dim", str(a.head_dim), "--heads-q", str(a.heads_q), "--q-tokens", str(a.q_tokens),
            "--batch", join(a.batch), "--kv-len", join(a.kv_len), "--gqa", join(a.gqa),
            "--page-size", str(page), "--kv-dtype", kv, "--max-gib", str(a.max_gib),
            "--warmup", str(a.warmup), "--reps", str(a.reps)]


def kv_bytes(batch, kv_len, heads_kv, head_dim, elem_bytes):
    return 2 * batch * kv_len * heads_kv * head_dim * elem_bytes


def render_table(rows, variants, ceiling, latency_mib):
    """Markdown: one line per (batch, length, group). Memory-bound points: GB/s and the fraction
    of the copy ceiling per variant; small ones: latency in us (cuDNN's beside it)."""
    head = ["batch", "kv len", "GQA", "bound"] + [f"{v}" for v in variants] + ["torch flash", "cuDNN"]
    out = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]

    def cell(r, key):
        x = r.get(key)
        if x is None:
            return r.get(key + "_error", "n/a")[:20] if key + "_error" in r else "n/a"
        if r["latency"]:
            return f"{x['us']:.1f} us"
        frac = f" ({x['gbps'] / ceiling:.2f}x)" if ceiling else ""
        return f"{x['gbps']:.0f}{frac}"

    for r in rows:
        if r.get("skipped"):
            out.append(f"| {r['batch']} | {r['kv_len']} | {r['gqa']} | skipped ({r['skipped']}) |" +
                       " |" * (len(head) - 4))
            continue
        bound = f"latency (< {latency_mib:.0f} MiB)" if r["latency"] else "memory"
        cells = [str(r["batch"]), str(r["kv_len"]), str(r["gqa"]), bound]
        cells += [cell(r, v) for v in variants] + [cell(r, "flash"), cell(r, "cudnn")]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def plan_of(config, splits, batch, heads_kv, group, q_tokens):
    """What one attnjit point ran: the kernel (tensor cores for block_m 16, else scalar), the CTA
    shape (rows x warps, keys per stage, stages), the split count and the grid's CTAs, from the
    config key bench-decode reports (sm80_bm<M>_bn<N>_w<W>_s<S>_...)."""
    fields = {}
    for tok in config.split("_"):
        for name in ("bm", "bn", "w", "s"):
            if tok.startswith(name) and tok[len(name):].isdigit():
                fields.setdefault(name, int(tok[len(name):]))
    bm = fields.get("bm", 1)
    kernel = "tc" if bm == 16 else "scalar"
    chunks = -(-group * q_tokens // bm)
    ctas = splits * chunks * heads_kv * batch
    return (f"{kernel} bm{bm} bn{fields.get('bn', '?')} w{fields.get('w', '?')} s{fields.get('s', '?')}"
            f", {splits} split{'s' if splits != 1 else ''}, {ctas} CTAs")


def render_plans(rows, variants):
    """Markdown: which kernel, CTA shape, split count and grid each attnjit point ran."""
    head = ["batch", "kv len", "GQA"] + variants
    out = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in rows:
        if r.get("skipped"):
            continue
        cells = [str(r["batch"]), str(r["kv_len"]), str(r["gqa"])]
        cells += [r[v]["plan"] if v in r else "n/a" for v in variants]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def grid_rows(a, results, torch_times=None):
    """results: variant -> bench-decode JSON; torch_times: (batch, len, gqa) -> {flash, cudnn}."""
    rows = []
    for g in a.gqa:
        for b in a.batch:
            for n in a.kv_len:
                heads_kv = a.heads_q // g
                r = {"batch": b, "kv_len": n, "gqa": g,
                     "latency": kv_bytes(b, n, heads_kv, a.head_dim, 2) < a.latency_mib * 2**20}
                for v in a.variants:
                    hit = [x for x in results[v]["results"] if (x["batch"], x["kv_len"], x["gqa"]) == (b, n, g)]
                    if not hit or "skipped" in hit[0]:
                        r["skipped"] = hit[0]["skipped"] if hit else "not measured"
                        continue
                    x = hit[0]
                    r[v] = {"gbps": x["gbps"], "us": x["median_ms"] * 1e3, "config": x["config"],
                            "splits": x["splits"],
                            "plan": plan_of(x["config"], x["splits"], b, heads_kv, g, a.q_tokens)}
                for be, t in (torch_times or {}).get((b, n, g), {}).items():
                    r[be] = t
                rows.append(r)
    return rows


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    if a.dry_run:
        for v in a.variants:
            print(" ".join(attnjit_cmd(a, v)))
        print(f"grid: {len(a.batch) * len(a.gqa) * len(a.kv_len)} points x {len(a.variants)} variants")
        return 0
    results = {v: json.loads(subprocess.run(attnjit_cmd(a, v), check=True, capture_output=True, text=True).stdout)
               for v in a.variants}
    ceiling, torch_times, device = 0.0, {}, results[a.variants[0]].get("device", "?")
    if not a.no_torch:
        import torch
        ceiling = copy_ceiling(torch, a.warmup, a.reps)
        device = torch.cuda.get_device_name()
        for g in a.gqa:
            for b in a.batch:
                for n in a.kv_len:
                    if kv_bytes(b, n, a.heads_q // g, a.head_dim, 2) > a.max_gib * 2**30:
                        continue
                    t = {}
                    for be in ("flash", "cudnn"):
                        gbps, why = torch_decode(torch, be, b, n, a.heads_q, g, a.head_dim, a.warmup, a.reps)
                        if gbps is None:
                            t[be + "_error"] = why
                        else:
                            t[be] = {"gbps": gbps, "us": kv_bytes(b, n, a.heads_q // g, a.head_dim, 2) / gbps / 1e3}
                    torch_times[(b, n, g)] = t
    rows = grid_rows(a, results, torch_times)
    print(f"Decode grid on {device}: bf16 queries, head dim {a.head_dim}, {a.heads_q} query heads, "
          f"{a.q_tokens} token(s); copy ceiling {ceiling:.0f} GB/s (read + write)\n")
    print(render_table(rows, a.variants, ceiling, a.latency_mib))
    print("\nWhat each point ran (kernel, CTA shape, splits, CTAs):\n")
    print(render_plans(rows, a.variants))
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump({"device": device, "copy_ceiling_gbps": ceiling, "rows": rows, "attnjit": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
