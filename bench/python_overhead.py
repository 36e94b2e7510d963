#!/usr/bin/env python3
"""The Python package's call overhead on a kernel-cache hit (a benchmark, never a timed test).

    PYTHONPATH=build/python python bench/python_overhead.py [--cpp build/bin/bench_prefill_call]

Same tiny problem as bench/prefill_call.cpp (f32, batch 1, 16 tokens, 1 head, head dim 32,
with LSE), so the kernel's own time is small and equal on both sides:
  C++                 Runtime::prefill from C++ (bench_prefill_call)
  numpy direct        attnjit.attention(q, k, v, return_lse=True) — allocates out and lse
  numpy out=          Runtime.prefill_into with preallocated outputs
  torch attention     attnjit.attention on CPU torch tensors (through the registered op)
  torch op            torch.ops.attnjit.attention(...) called directly
  F.sdpa              torch's own SDPA on the same tensors (its dispatch plus a tiny kernel)
  torch.empty x2      the op's two output allocations, part of the op's cost
  F.sdpa 1x1          SDPA with one query and one key: the closest to its dispatch alone
  no-op Library op    a torch.library op (same kind of definition as attnjit's) that only
                      allocates its two outputs: custom-op dispatch plus the allocations
Per path: batches of 100 calls; median, p10 and min of the per-call means (the machine is
shared: min is the least disturbed figure). Prints a table or, with --json, one JSON object.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time


def per_call_ns(fn, reps, batch=100):
    for _ in range(200):
        fn()
    samples = []
    for _ in range(max(reps // batch, 5)):
        t0 = time.perf_counter_ns()
        for _ in range(batch):
            fn()
        samples.append((time.perf_counter_ns() - t0) / batch)
    samples.sort()
    return {"median_ns": statistics.median(samples), "p10_ns": samples[len(samples) // 10], "min_ns": samples[0]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cpp", help="bench_prefill_call executable (the C++ baseline)")
    ap.add_argument("--reps", type=int, default=20000)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    import numpy as np

    import attnjit

    rows = {}
    if a.cpp:
        out = subprocess.run([a.cpp, "--reps", str(a.reps)], check=True, capture_output=True, text=True).stdout
        rows["C++ Runtime::prefill"] = json.loads(out)
    q = np.full((1, 16, 1, 32), 0.5, np.float32)
    k, v = q.copy(), q.copy()
    rt = attnjit.default_runtime("cpu")
    o, lse = np.empty_like(q), np.empty((1, 1, 16), np.float32)
    attnjit.attention(q, k, v, return_lse=True)  # compile / load
    rows["numpy attnjit.attention"] = per_call_ns(lambda: attnjit.attention(q, k, v, return_lse=True), a.reps)
    rows["numpy Runtime.prefill_into"] = per_call_ns(lambda: rt.prefill_into(q, k, v, o, lse), a.reps)
    try:
        import torch
        import torch.nn.functional as F

        import attnjit.torch  # noqa: F401

        tq, tk, tv = (torch.from_numpy(x) for x in (q, k, v))
        op = torch.ops.attnjit.attention
        rows["torch attnjit.attention"] = per_call_ns(lambda: attnjit.attention(tq, tk, tv, return_lse=True), a.reps)
        rows["torch.ops.attnjit.attention"] = per_call_ns(lambda: op(tq, tk, tv, False, None, None, 0.0, "bshd"), a.reps)
        rows["torch F.sdpa"] = per_call_ns(lambda: F.scaled_dot_product_attention(tq, tk, tv), a.reps)
        rows["torch.empty x2"] = per_call_ns(lambda: (torch.empty((1, 16, 1, 32)), torch.empty((1, 1, 16))), a.reps)
        t1 = torch.full((1, 1, 1, 32), 0.5)
        rows["torch F.sdpa 1x1"] = per_call_ns(lambda: F.scaled_dot_product_attention(t1, t1, t1), a.reps)
        lib = torch.library.Library("attnjit_bench", "DEF")
        lib.define("noop(Tensor q, Tensor k, Tensor v, bool causal, int? wl, int? wr, float scale, str layout) "
                   "-> (Tensor, Tensor)")
        lib.impl("noop", lambda q, k, v, *_: (torch.empty(q.shape), torch.empty((1, 1, 16))), "CPU")
        noop = torch.ops.attnjit_bench.noop
        rows["no-op Library op"] = per_call_ns(lambda: noop(tq, tk, tv, False, None, None, 0.0, "bshd"), a.reps)
        torch_v = torch.__version__
    except ImportError:
        torch_v = None
    info = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
            "load": os.getloadavg()[0], "python": sys.version.split()[0], "torch": torch_v,
            "target": rt.target, "rows": rows}
    if a.json:
        print(json.dumps(info))
        return
    print(f"python {info['python']}, torch {torch_v}, target {rt.target}, load {info['load']:.1f}")
    print(f"{'path':30} {'median us':>10} {'p10 us':>8} {'min us':>8}")
    for name, r in rows.items():
        mn = r.get("min_ns", r["p10_ns"])
        print(f"{name:30} {r['median_ns'] / 1e3:10.2f} {r['p10_ns'] / 1e3:8.2f} {mn / 1e3:8.2f}")


if __name__ == "__main__":
    main()
