#!/usr/bin/env python3
"""The Python package's call overhead on a kernel-cache hit (a benchmark, never a timed test).

    PYTHONPATH=build/python python bench/python_overhead.py [--cpp build/bin/bench_prefill_call]
        [--device cpu|cuda] [--json]

Same tiny problem as bench/prefill_call.cpp (cpu: f32, batch 1, 16 tokens, 1 head, head dim 32,
with LSE; cuda: the same in bf16 at head dim 64), so the kernel's own time is small and equal on
both sides:
  C++                 Runtime::prefill from C++ (bench_prefill_call)
  numpy direct        attnjit.attention(q, k, v, return_lse=True) — allocates out and lse
  numpy out=          Runtime.prefill_into with preallocated outputs
  torch attention     attnjit.attention on CPU torch tensors (through the registered op)
  torch op            torch.ops.attnjit.attention(...) called directly: its C++ kernel
                      (attnjit/_torch_ops.so) when built, else the Python one
  same op, Python     the same schema with attnjit/torch.py's Python kernel (the fallback
  kernel              without that library), side by side with the row above
  F.sdpa              torch's own SDPA on the same tensors (its dispatch plus a tiny kernel)
  torch.empty x2      the op's two output allocations (as attnjit/torch.py makes them)
  F.sdpa 1x1          SDPA with one query and one key: the closest to its dispatch alone
  no-op Library op    a torch.library op (same kind of definition as attnjit's) that only
                      allocates its two outputs: custom-op dispatch plus the allocations
Per path: batches of 100 calls; median, p10 and min of the per-call means, and "quiet median":
the median over the batches during which this thread was not preempted (no involuntary context
switch, getrusage RUSAGE_THREAD). On a loaded machine a preemption costs a whole scheduler slice
(~4 ms on the 2-core VM: +40 µs per call in a batch of 100) and hits a batch with a probability
that grows with the batch's length, so the slower paths' plain medians flip to the slow mode
first; "preempted" is the share of batches left out. Prints a table or, with --json, one JSON
object.

--device cuda: CUDA tensors, the C++ side run with --backend cuda, and the numpy rows replaced
by Runtime.prefill_into on DLPack capsules of the torch tensors (the binding alone). What is
timed is the host's cost per enqueued call: batches of calls with no synchronization between
them, then one torch.cuda.synchronize() outside the timed span (the calls are asynchronous, so
this is the dispatch / launch overhead a model's Python thread pays, not the kernel's time).
Without a CUDA device (or torch) it prints why and exits 77 ({"skipped": ...} with --json).
"""

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time


SKIP = 77


def preemptions():
    """Involuntary context switches of the calling thread so far."""
    return resource.getrusage(resource.RUSAGE_THREAD).ru_nivcsw


def per_call_ns(fn, reps, batch=100, sync=None):
    """Per-call means of batches of `batch` calls; `sync` (CUDA) runs after each batch, untimed."""
    for _ in range(200):
        fn()
    if sync:
        sync()
    samples, quiet = [], []
    for _ in range(max(reps // batch, 5)):
        p0 = preemptions()
        t0 = time.perf_counter_ns()
        for _ in range(batch):
            fn()
        t = (time.perf_counter_ns() - t0) / batch
        samples.append(t)
        if preemptions() == p0:
            quiet.append(t)
        if sync:
            sync()
    samples.sort()
    return {"median_ns": statistics.median(samples), "p10_ns": samples[len(samples) // 10], "min_ns": samples[0],
            "quiet_median_ns": statistics.median(quiet) if quiet else -1, "batches": len(samples),
            "preempted": len(samples) - len(quiet)}


def cpp_row(exe, device, reps):
    """The C++ baseline's JSON, or (None, why) when it skips or fails: the Python rows still count."""
    r = subprocess.run([exe, "--backend", device, "--reps", str(reps)], capture_output=True, text=True)
    if r.returncode != 0:
        why = f"{exe} --backend {device}: rc={r.returncode}: {r.stderr.strip()}"
        print(f"python_overhead: no C++ row: {why}", file=sys.stderr)
        return None, why
    return json.loads(r.stdout), None


def numpy_rows(attnjit, rt, reps):
    import numpy as np

    q = np.full((1, 16, 1, 32), 0.5, np.float32)
    k, v = q.copy(), q.copy()
    o, lse = np.empty_like(q), np.empty((1, 1, 16), np.float32)
    attnjit.attention(q, k, v, return_lse=True)  # compile / load
    return {"numpy attnjit.attention": per_call_ns(lambda: attnjit.attention(q, k, v, return_lse=True), reps),
            "numpy Runtime.prefill_into": per_call_ns(lambda: rt.prefill_into(q, k, v, o, lse), reps)}


def torch_rows(attnjit, torch, device, reps):
    """The torch rows on `device` tensors: cpu f32 d32, cuda bf16 d64 (as bench_prefill_call)."""
    import torch.nn.functional as F

    import attnjit.torch  # noqa: F401

    cuda = device == "cuda"
    dt, d = (torch.bfloat16, 64) if cuda else (torch.float32, 32)
    sync = torch.cuda.synchronize if cuda else None
    tq = torch.full((1, 16, 1, d), 0.5, dtype=dt, device=device)
    tk, tv = tq.clone(), tq.clone()
    op = torch.ops.attnjit.attention
    rows = {}
    attnjit.attention(tq, tk, tv, return_lse=True)  # compile / load
    if cuda:
        # The binding alone on CUDA tensors (what numpy's prefill_into row is on the CPU).
        rt = attnjit.default_runtime("cuda", tq.device.index or 0)
        dl = torch.utils.dlpack.to_dlpack
        o, lse = torch.empty_like(tq), torch.empty((1, 1, 16), device=device)
        stream = torch.cuda.current_stream().cuda_stream
        rows["cuda Runtime.prefill_into (capsules)"] = per_call_ns(
            lambda: rt.prefill_into(dl(tq), dl(tk), dl(tv), dl(o), dl(lse), stream=stream), reps, sync=sync)
    rows["torch attnjit.attention"] = per_call_ns(lambda: attnjit.attention(tq, tk, tv, return_lse=True), reps,
                                                  sync=sync)
    kernel = "C++" if "attention" in attnjit.torch.native_ops else "Python"
    rows[f"torch.ops.attnjit.attention [{kernel}]"] = per_call_ns(
        lambda: op(tq, tk, tv, False, None, None, 0.0, "bshd"), reps, sync=sync)
    # The same op with attnjit/torch.py's Python kernel (what runs without attnjit/_torch_ops.so).
    fallback = torch.library.Library("attnjit_bench_py", "DEF")
    fallback.define("attention(Tensor q, Tensor k, Tensor v, bool causal, int? window_left, int? window_right, "
                    "float scale, str layout, float softcap=0.0, Tensor? alibi_slopes=None, Tensor? sinks=None) "
                    "-> (Tensor, Tensor)")
    fallback.impl("attention", attnjit.torch._attention_impl, "CUDA" if cuda else "CPU")
    py_op = torch.ops.attnjit_bench_py.attention
    rows["same op, Python kernel [fallback]"] = per_call_ns(
        lambda: py_op(tq, tk, tv, False, None, None, 0.0, "bshd"), reps, sync=sync)
    rows["torch F.sdpa"] = per_call_ns(lambda: F.scaled_dot_product_attention(tq, tk, tv), reps, sync=sync)
    # The op's own two output allocations (attnjit/torch.py), also in the no-op op below.
    outputs = (lambda q: (attnjit.torch._out_like(q), attnjit.torch._f32(q, (1, 1, 16))))
    rows["torch.empty x2"] = per_call_ns(lambda: outputs(tq), reps, sync=sync)
    t1 = torch.full((1, 1, 1, d), 0.5, dtype=dt, device=device)
    rows["torch F.sdpa 1x1"] = per_call_ns(lambda: F.scaled_dot_product_attention(t1, t1, t1), reps, sync=sync)
    lib = torch.library.Library("attnjit_bench", "DEF")
    lib.define("noop(Tensor q, Tensor k, Tensor v, bool causal, int? wl, int? wr, float scale, str layout) "
               "-> (Tensor, Tensor)")
    lib.impl("noop", lambda q, k, v, *_: outputs(q), "CUDA" if cuda else "CPU")
    noop = torch.ops.attnjit_bench.noop
    rows["no-op Library op"] = per_call_ns(lambda: noop(tq, tk, tv, False, None, None, 0.0, "bshd"), reps, sync=sync)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cpp", help="bench_prefill_call executable (the C++ baseline)")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--reps", type=int, default=20000)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    def skip(why):
        print(json.dumps({"device": a.device, "skipped": why}) if a.json else f"python_overhead: skipped: {why}")
        return SKIP

    try:
        import torch
    except ImportError as e:
        if a.device == "cuda":
            return skip(f"torch is not importable ({e})")
        torch = None
    if a.device == "cuda" and not torch.cuda.is_available():
        return skip("no CUDA device visible to torch")

    import attnjit

    rows, cpp_error = {}, None
    if a.cpp:
        r, cpp_error = cpp_row(a.cpp, a.device, a.reps)
        if r is not None:
            rows["C++ Runtime::prefill"] = r
    rt = attnjit.default_runtime(a.device)
    if a.device == "cpu":
        rows.update(numpy_rows(attnjit, rt, a.reps))
    if torch is not None:
        rows.update(torch_rows(attnjit, torch, a.device, a.reps))
    info = {"device": a.device, "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
            "load": os.getloadavg()[0], "python": sys.version.split()[0],
            "torch": torch.__version__ if torch is not None else None, "target": rt.target,
            "timing": "host time per enqueued call (no sync inside a batch)" if a.device == "cuda"
            else "wall time per call", "rows": rows}
    if cpp_error:
        info["cpp_error"] = cpp_error
    if a.json:
        print(json.dumps(info))
        return 0
    print(f"python {info['python']}, torch {info['torch']}, device {a.device}, target {rt.target}, "
          f"load {info['load']:.1f}; {info['timing']}")
    print(f"{'path':38} {'median us':>10} {'p10 us':>8} {'min us':>8} {'quiet med us':>12} {'preempted':>9}")
    for name, r in rows.items():
        print(f"{name:38} {r['median_ns'] / 1e3:10.2f} {r['p10_ns'] / 1e3:8.2f} {r['min_ns'] / 1e3:8.2f} "
              f"{r['quiet_median_ns'] / 1e3:12.2f} {r['preempted'] / r['batches']:9.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
