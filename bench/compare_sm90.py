#!/usr/bin/env python3
"""The Hopper grid in one table: our sm90 template, our sm80 template, and PyTorch SDPA's flash
and cuDNN backends, timed in the same run on the same device.

    attnjit bench --json --template sm80 [grid options] > sm80.json
    attnjit bench --json --template sm90 [grid options] > sm90.json
    python3 bench/compare_sm90.py --sm80-json sm80.json --sm90-json sm90.json [--json-out grid.json]

Rows are matched by shape (dtype, head dim, mask, seqlen, batch, heads); torch is timed once per
row with bench/compare_torch.py's timer, FLOPs by its convention (4*B*H*S*S*D, halved for
causal). scripts/gpu-check.sh sm90 runs it on the FlashAttention grid (bf16, head dims 64 / 128 /
256, seqlen 512..16k at 16k tokens, causal on and off).
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_torch  # noqa: E402  (the same torch timer and FLOP count as the sm80 comparison)

KEY = ("dtype", "head_dim", "mask", "seqlen", "batch", "heads_q", "heads_kv")


def load(path, name):
    try:
        with open(path) as f:
            return {tuple(r[k] for k in KEY): r for r in json.load(f)["results"]}
    except (OSError, ValueError, KeyError) as e:
        raise SystemExit(f"--{name}-json {path}: not an `attnjit bench --json` output ({e})")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sm80-json", required=True)
    p.add_argument("--sm90-json", required=True)
    p.add_argument("--torch-warmup", type=int, default=5)
    p.add_argument("--torch-reps", type=int, default=20)
    p.add_argument("--no-torch", action="store_true", help="leave the torch columns empty")
    p.add_argument("--json-out")
    a = p.parse_args()
    sm80, sm90 = load(a.sm80_json, "sm80"), load(a.sm90_json, "sm90")
    backends = {}
    if not a.no_torch:
        import torch
        from torch.nn.attention import SDPBackend
        if not torch.cuda.is_available():
            raise SystemExit("PyTorch sees no CUDA device (use --no-torch for our columns only)")
        backends = {"flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION}
        print(f"torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}, {torch.cuda.get_device_name()}")
    f, ratio = compare_torch.fmt, compare_torch.ratio

    print(f"{'dtype':5} {'hd':>4} {'mask':7} {'seqlen':>6} {'sm90':>7} {'sm80':>7} {'flash':>7} {'cudnn':>7} "
          f"{'90/80':>6} {'90/cudnn':>8}  sm90 config   (TFLOP/s)")
    rows, notes = [], set()
    for key in sorted(set(sm80) | set(sm90), key=lambda k: (k[0], k[1], k[2], k[3])):
        r = sm90.get(key) or sm80[key]
        out = dict(zip(KEY, key))
        out["sm90"] = sm90[key]["tflops"] if key in sm90 else None
        out["sm80"] = sm80[key]["tflops"] if key in sm80 else None
        out["sm90_config"] = sm90[key]["config"] if key in sm90 else None
        compare_torch.time_backends(out, r, backends, a.torch_warmup, a.torch_reps, notes)
        rows.append(out)
        print(f"{out['dtype']:5} {out['head_dim']:>4} {out['mask']:7} {out['seqlen']:>6} {f(out['sm90']):>7} "
              f"{f(out['sm80']):>7} {f(out.get('flash')):>7} {f(out.get('cudnn')):>7} "
              f"{ratio(out['sm90'], out['sm80']):>6} {ratio(out['sm90'], out.get('cudnn')):>8}  "
              f"{out['sm90_config'] or '-'}", flush=True)
    compare_torch.finish(notes, a.json_out, {"rows": rows})


if __name__ == "__main__":
    main()
