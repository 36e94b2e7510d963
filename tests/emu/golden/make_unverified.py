#!/usr/bin/env python3
"""Writes the golden files of tests/emu/golden/ from the PTX ISA's tables, marked `unverified`.

The first session with an sm_90 GPU replaces them with the output of scripts/gpu-probes
(`scripts/gpu-check.sh sm90` does it and diffs), which says `verified` in its first line.
Formats: scripts/gpu-probes/probe_format.h. Sources (PTX ISA 8.x):
- "Register fragment layout for accumulator matrix D" of wgmma .m64nNk16: thread t = 32w + 4g + q
  holds, in register i, row 16w + g + 8*((i/2)%2), column 8*(i/4) + 2q + i%2.
- "Tensor copy swizzling modes": 16-byte chunk bits [4, 4+b) of the shared address are XORed with
  bits [7, 7+b), b = 1 / 2 / 3 for 32 / 64 / 128-byte swizzles (pattern of 256 / 512 / 1024 bytes).
- "mbarrier": a phase completes when pending arrivals and tx-count are both 0; test_wait.parity P
  is true once the phase with parity P completed (initially the "previous" phase, parity 1).
"""
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
NOTE = "# unverified: written from the PTX ISA tables by tests/emu/golden/make_unverified.py; run scripts/gpu-probes on an sm_90 GPU to verify\n"


def wgmma_acc():
    s = "# wgmma.m64n16k16.f32.bf16 accumulator: thread register row column\n"
    for t in range(128):
        w, g, q = t // 32, (t % 32) // 4, t % 4
        for i in range(8):
            s += f"{t} {i} {16 * w + g + 8 * ((i // 2) % 2)} {8 * (i // 4) + 2 * q + i % 2}\n"
    return s


def tma_swizzle(span):
    bits = {32: 1, 64: 2, 128: 3}[span]
    place = {}
    for r in range(8):
        for c in range(span // 16):
            linear = r * span + c * 16
            addr = linear ^ (((linear >> 7) & ((1 << bits) - 1)) << 4)
            place[addr // 16] = (r, c * 8)
    s = f"# TMA {span}B swizzle, 8 rows x {span} bytes: shared chunk, global row, global column\n"
    for ch in range(8 * span // 16):
        r, c = place[ch]
        s += f"{ch} {r} {c}\n"
    return s


def mbarrier():
    # count 2; steps: init, arrive, arrive, expect_tx(32)+arrive, arrive, complete_tx(32), arrive, arrive
    phase, pending, tx = 0, 2, 0
    rows = []

    def rec():
        rows.append((1 if phase % 2 != 0 else 0, 1 if phase % 2 != 1 else 0))

    def settle():
        nonlocal phase, pending
        if pending == 0 and tx == 0:
            phase, pending = phase + 1, 2

    rec()
    for op in ["arrive", "arrive", "expect32", "arrive", "complete32", "arrive", "arrive"]:
        if op == "expect32":
            tx += 32
            pending -= 1
        elif op == "complete32":
            tx -= 32
        else:
            pending -= 1
        settle()
        rec()
    s = "# mbarrier test_wait.parity after each step: step parity0 parity1\n"
    for i, (p0, p1) in enumerate(rows):
        s += f"{i} {p0} {p1}\n"
    return s


def main():
    files = {"wgmma_acc_m64n16.txt": wgmma_acc(), "mbarrier_phases.txt": mbarrier()}
    for span in (32, 64, 128):
        files[f"tma_swizzle_{span}B.txt"] = tma_swizzle(span)
    for name, body in files.items():
        (HERE / name).write_text(NOTE + body)


if __name__ == "__main__":
    main()
