#!/usr/bin/env python3
"""Times the shapes of `attnjit bench` through PyTorch SDPA's flash and cuDNN backends in the
same run, and prints attnjit's TFLOP/s next to theirs with the ratios.

    python3 bench/compare_torch.py --attnjit build-gpu/bin/attnjit [attnjit bench options]
    python3 bench/compare_torch.py --attnjit-json out/bench.json      # reuse a bench run

Unknown options go to `attnjit bench` unchanged (e.g. --head-dim 128 --mask causal), so both
sides always time the same shapes: the list comes from attnjit's JSON. FLOPs follow the
FlashAttention convention (4*B*H*S*S*D, halved for causal). Sliding-window rows have no SDPA
path (PyTorch would need a dense mask, a different computation): their torch columns are empty.
"""
import argparse
import json
import math
import statistics
import subprocess
import sys


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--attnjit", default="build-gpu/bin/attnjit", help="the attnjit executable")
    p.add_argument("--attnjit-json", help="use this `attnjit bench --json` output instead of running it")
    p.add_argument("--torch-warmup", type=int, default=5)
    p.add_argument("--torch-reps", type=int, default=20)
    p.add_argument("--json-out", help="also write the comparison as JSON here")
    return p.parse_known_args()


def run_attnjit(exe, extra):
    cmd = [exe, "bench", "--json"] + extra
    print("running:", " ".join(cmd), file=sys.stderr, flush=True)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        raise SystemExit(f"attnjit bench failed with exit code {r.returncode}")
    return json.loads(r.stdout)


def flops(row):
    b, h, s, d = row["batch"], row["heads_q"], row["seqlen"], row["head_dim"]
    f = 4.0 * b * h * s * s * d
    return f / 2 if row["mask"] == "causal" else f


def time_torch(row, backend, warmup, reps):
    """Median ms of SDPA on `backend` for the row's shape, or (None, reason)."""
    import torch
    import torch.nn.functional as F
    from torch.nn.attention import sdpa_kernel

    if row["mask"] not in ("none", "causal"):
        return None, "no SDPA path for " + row["mask"]
    dtype = {"bf16": torch.bfloat16, "f16": torch.float16}.get(row["dtype"])
    if dtype is None:
        return None, "dtype " + row["dtype"]
    b, hq, hkv, s, d = row["batch"], row["heads_q"], row["heads_kv"], row["seqlen"], row["head_dim"]
    gen = torch.Generator(device="cuda").manual_seed(0)
    q = torch.randn(b, hq, s, d, device="cuda", dtype=dtype, generator=gen)
    k = torch.randn(b, hkv, s, d, device="cuda", dtype=dtype, generator=gen)
    v = torch.randn(b, hkv, s, d, device="cuda", dtype=dtype, generator=gen)
    causal = row["mask"] == "causal"
    kwargs = {"is_causal": causal}
    if hkv != hq:
        kwargs["enable_gqa"] = True
    try:
        with sdpa_kernel([backend]):
            for _ in range(warmup):
                F.scaled_dot_product_attention(q, k, v, **kwargs)
            torch.cuda.synchronize()
            events = [torch.cuda.Event(enable_timing=True) for _ in range(reps + 1)]
            events[0].record()
            for i in range(reps):
                F.scaled_dot_product_attention(q, k, v, **kwargs)
                events[i + 1].record()
            torch.cuda.synchronize()
    except RuntimeError as e:  # backend refuses the shape / dtype on this GPU
        return None, str(e).splitlines()[0][:120]
    ms = [events[i].elapsed_time(events[i + 1]) for i in range(reps)]
    return statistics.median(ms), None


def time_backends(out, row, backends, warmup, reps, notes):
    """TFLOP/s of the row's shape under each SDPA backend into out[name]: None where the backend
    refuses it, the reason added to notes."""
    for name, be in backends.items():
        ms, why = time_torch(row, be, warmup, reps)
        out[name] = flops(row) / (ms * 1e-3) / 1e12 if ms else None
        if why:
            notes.add(f"{name}: {why}")


def fmt(v):
    """A TFLOP/s cell ("-": no number)."""
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.1f}"


def ratio(a, b):
    return "-" if not a or not b else f"{a / b:.2f}"


def finish(notes, json_out, doc):
    """Prints why a backend refused rows, and writes doc as JSON to json_out when given."""
    for n in sorted(notes):
        print("note:", n)
    if json_out:
        with open(json_out, "w") as fo:
            json.dump(doc, fo, indent=2)


def main():
    args, extra = parse_args()
    if args.attnjit_json:
        with open(args.attnjit_json) as f:
            ours = json.load(f)
    else:
        ours = run_attnjit(args.attnjit, extra)

    try:
        import torch
        from torch.nn.attention import SDPBackend
    except ImportError as e:
        raise SystemExit(f"PyTorch with torch.nn.attention is needed for the comparison: {e}")

    if not torch.cuda.is_available():
        raise SystemExit("PyTorch sees no CUDA device")
    backends = {"flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION}
    print(f"attnjit: {ours['backend']}")
    print(f"torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}, {torch.cuda.get_device_name()}")
    print(f"{'dtype':5} {'hd':>4} {'mask':10} {'seqlen':>6} {'batch':>5} {'heads':>5} "
          f"{'attnjit':>8} {'flash':>8} {'cudnn':>8} {'/flash':>7} {'/cudnn':>7}   TFLOP/s")
    rows = []
    notes = set()
    for r in ours["results"]:
        out = {k: r[k] for k in ("dtype", "head_dim", "mask", "seqlen", "batch", "heads_q", "heads_kv")}
        out["attnjit"] = r["tflops"]
        out["attnjit_config"] = r["config"]
        time_backends(out, r, backends, args.torch_warmup, args.torch_reps, notes)
        rows.append(out)
        print(f"{r['dtype']:5} {r['head_dim']:>4} {r['mask']:10} {r['seqlen']:>6} {r['batch']:>5} {r['heads_q']:>5} "
              f"{fmt(out['attnjit']):>8} {fmt(out['flash']):>8} {fmt(out['cudnn']):>8} "
              f"{ratio(out['attnjit'], out['flash']):>7} {ratio(out['attnjit'], out['cudnn']):>7}", flush=True)
    finish(notes, args.json_out, {"attnjit": ours["backend"], "torch": torch.__version__,
                                  "cudnn": torch.backends.cudnn.version(), "device": torch.cuda.get_device_name(),
                                  "rows": rows})


if __name__ == "__main__":
    main()
