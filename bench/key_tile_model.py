#!/usr/bin/env python3
"""How much of what the sm80 prefill computes is visible, per key tiling (config order 0, 1, 2).

    python3 bench/key_tile_model.py [--seqlen 8192] [--windows causal,1024,128] [--configs 64x128x4,128x64x8]
    python3 bench/key_tile_model.py --sm90 [--windows causal,1024] [--configs 2x80,3x128]

A model, not a measurement: for each query block of block_m rows, the keys its tiles cover
(order 0: tiles on multiples of block_n; 1: tiles ending at the block's last visible key, the
lowest a half tile when it fits; 2: the same, and in a tile the mask cuts each warp skips the
16-key steps none of its rows sees), against the query-key pairs the mask shows. The same rules
as templates/prefill/sm80.cuh (seqlen_q = seqlen_k, windows left-only: sw<W>-0);
tests/emu/prefill_sm80_end_aligned_test.cpp checks a C++ copy of this model against the
emulator's load and MMA counts.
"""

import argparse


def visible_share(seqlen, block_m, block_n, warps, window, order):
    """Visible pairs / computed pairs; window None = causal."""
    warp_rows = block_m // warps

    def keys(i):  # row i sees keys [lo, hi)
        return (0 if window is None else max(0, i - window)), min(seqlen, i + 1)

    visible = computed = 0
    for m0 in range(0, seqlen, block_m):
        last = min(m0 + block_m, seqlen) - 1
        lo, hi_first = keys(m0)
        lo_last, hi = keys(last)
        if order == 0:
            tiles = [(n * block_n, (n + 1) * block_n) for n in range(lo // block_n, -(-hi // block_n))]
        else:
            half = block_n // 2
            a, end = lo // half * half, -(-hi // half) * half
            tiles = []
            while end > a:
                tiles.append((max(end - block_n, a), end))
                end -= block_n
        for k0, k1 in tiles:
            cut = not (k0 >= lo_last and k1 <= hi_first)
            for w in range(warps):
                w_lo = keys(m0 + w * warp_rows)[0]
                w_hi = keys(m0 + w * warp_rows + warp_rows - 1)[1]
                for k in range(k0, k1, 16):
                    if order < 2 or not cut or (k + 16 > w_lo and k < w_hi):
                        computed += 16 * warp_rows
        for i in range(m0, last + 1):
            a, b = keys(i)
            visible += b - a
    return visible / computed


def sm90_unseen_share(seqlen, consumers, block_n, window):
    """sm90: the share of (consumer, key tile) pairs in which the consumer's 64 rows see no key,
    which config order 1 passes through instead of computing."""
    def keys(i):
        return (0 if window is None else max(0, i - window)), min(seqlen, i + 1)

    block_m, total, unseen = 64 * consumers, 0, 0
    for m0 in range(0, seqlen, block_m):
        lo, hi = keys(m0)[0], keys(min(m0 + block_m, seqlen) - 1)[1]
        for n in range(lo // block_n, -(-hi // block_n)):
            for c in range(consumers):
                c_lo, c_hi = keys(m0 + 64 * c)[0], keys(m0 + 64 * c + 63)[1]
                total += 1
                unseen += (n + 1) * block_n <= c_lo or n * block_n >= c_hi
    return unseen / total


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seqlen", type=int, default=8192)
    ap.add_argument("--windows", default="causal,1024,128", help="'causal' or left window widths")
    ap.add_argument("--configs", default="64x128x4,128x64x8,128x128x8", help="block_m x block_n x warps")
    ap.add_argument("--sm90", action="store_true",
                    help="the sm90 template instead: the share of consumer tiles order 1 passes through "
                         "(--configs as consumers x block_n, e.g. 2x80,3x128)")
    a = ap.parse_args()
    if a.sm90:
        configs = a.configs if a.configs != ap.get_default("configs") else "2x80,2x112,3x128,2x128"
        print("| consumers x block_n | mask | " + " | ".join(f"{s}" for s in (512, 1024, 2048, 4096, 8192)) + " |")
        print("| --- | --- |" + " --- |" * 5)
        for cfg in configs.split(","):
            cons, bn = (int(x) for x in cfg.split("x"))
            for win in a.windows.split(","):
                window = None if win == "causal" else int(win)
                name = "causal" if window is None else f"sw{window}-0"
                shares = [sm90_unseen_share(s, cons, bn, window) for s in (512, 1024, 2048, 4096, 8192)]
                print(f"| {cons} x {bn} | {name} | " + " | ".join(f"{x:.3f}" for x in shares) + " |")
        return
    print("| config | mask | order 0 | order 1 | order 2 |")
    print("| --- | --- | --- | --- | --- |")
    for cfg in a.configs.split(","):
        bm, bn, w = (int(x) for x in cfg.split("x"))
        for win in a.windows.split(","):
            window = None if win == "causal" else int(win)
            shares = [visible_share(a.seqlen, bm, bn, w, window, o) for o in (0, 1, 2)]
            name = "causal" if window is None else f"sw{window}-0"
            print(f"| bm{bm}_bn{bn}_w{w} | {name} | " + " | ".join(f"{x:.3f}" for x in shares) + " |")


if __name__ == "__main__":
    main()
