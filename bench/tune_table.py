#!/usr/bin/env python3
"""Tables from an `attnjit tune --json` event stream (one JSON object per line): per problem the
best config, the default's time and the speedup, then the fastest candidates of each template.

    python3 bench/tune_table.py tune90.jsonl [--top 8] [--hidden 2048 --tokens 16384]

TFLOP/s use the tuner's GPU workload (tuner/workload.cpp: hidden 2048, 16k tokens per call, so
heads = hidden / head dim, batch = tokens / seqlen) and count visible query-key pairs: all for
no mask, the lower triangle for causal, the band for sliding windows (bottom-right aligned),
4 * head_dim FLOPs per pair. Decode problems are skipped (their figure is GB/s).
"""

import argparse
import json
import re
import sys

KEY = re.compile(r"^prefill_(?P<dt>[a-z0-9]+)_hd(?P<hd>\d+)_(?P<mask>none|causal|sw\d+-\d+)(?:_[a-z]+[0-9a-f]*)*?"
                 r"_g(?P<g>\d+)_q(?P<q>\d+)_k(?P<k>\d+)")


def visible_pairs(mask, sq, sk):
    """Query-key pairs a row sees, summed over rows (masks aligned bottom-right as in attnjit)."""
    if mask == "none":
        return sq * sk
    left, right = (10**12, 0) if mask == "causal" else map(int, mask[2:].split("-"))
    off = sk - sq
    total = 0
    for i in range(sq):
        lo, hi = max(0, i + off - left), min(sk, i + off + right + 1)
        total += max(0, hi - lo)
    return total


def tflops(key, ms, hidden, tokens):
    m = KEY.match(key)
    if not m or ms is None or ms <= 0:
        return None
    hd, sq, sk = int(m["hd"]), int(m["q"]), int(m["k"])
    heads, batch = hidden // hd, max(1, tokens // sq)
    return 4.0 * hd * batch * heads * visible_pairs(m["mask"], sq, sk) / (ms * 1e-3) / 1e12


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("events", help="JSON lines from attnjit tune --json")
    ap.add_argument("--top", type=int, default=8, help="fastest candidates listed per template")
    ap.add_argument("--hidden", type=int, default=2048)
    ap.add_argument("--tokens", type=int, default=16384)
    a = ap.parse_args()
    timed, done = {}, []
    with open(a.events) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                e = json.loads(line)
            except json.JSONDecodeError as err:
                print(f"tune_table: line {n}: not JSON ({err}); skipped", file=sys.stderr)
                continue
            if e.get("event") == "candidate_timed":
                timed.setdefault(e["problem"], []).append(e)
            elif e.get("event") == "problem_done":
                done.append(e)

    def tf(key, ms):
        v = tflops(key, ms, a.hidden, a.tokens)
        return f"{v:.1f}" if v is not None else "-"

    print("| problem | best config | ms | TFLOP/s | default config | default ms | TFLOP/s | speedup |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for e in done:
        k = e["problem"]
        print(f"| {k} | `{e.get('best_config', '')}` | {e.get('best_median_ms') or 0:.4g} | "
              f"{tf(k, e.get('best_median_ms'))} | `{e.get('default_config', '')}` | "
              f"{e.get('default_median_ms') or 0:.4g} | {tf(k, e.get('default_median_ms'))} | "
              f"{e.get('speedup') or 0:.2f}x |")
    for k, evs in timed.items():
        by_tmpl = {}
        for e in evs:
            cfg = e.get("config", "")
            by_tmpl.setdefault("sm90" if cfg.startswith("sm90") else "sm80", []).append(e)
        print(f"\n{k}:")
        for t, lst in sorted(by_tmpl.items()):
            lst.sort(key=lambda e: e.get("median_ms") or 1e9)
            row = ", ".join(f"{e.get('config')} {e.get('median_ms'):.4g} ms ({tf(k, e.get('median_ms'))})"
                            for e in lst[: a.top])
            print(f"  {t} ({len(lst)} timed): {row}")
    if not done and not timed:
        print("tune_table: no problem_done or candidate_timed events", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
