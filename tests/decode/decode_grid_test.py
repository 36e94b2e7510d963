#!/usr/bin/env python3
"""CPU-side parts of the GPU decode grid (bench/decode_grid.py) and of scripts/gpu-check.sh's
decode phase: argument checks, the attnjit command lines, the table from synthetic results,
--dry-run, and gpu-check refusing an unknown phase before running anything. No GPU, no torch."""
import io
import os
import subprocess
import sys
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import decode_grid as dg  # noqa: E402


def bench_json(args, variant, gbps_of):
    """What `attnjit bench-decode --json` returns for the grid, with GB/s from gbps_of(b, n, g)."""
    res = []
    for g in args.gqa:
        for b in args.batch:
            for n in args.kv_len:
                if b == 64 and n == 131072 and g == 1:
                    res.append({"batch": b, "kv_len": n, "gqa": g, "skipped": "K/V cache exceeds --max-gib"})
                    continue
                gbps = gbps_of(b, n, g)
                elem = 1 if variant.startswith("e4m3") else 2
                ms = dg.kv_bytes(b, n, args.heads_q // g, args.head_dim, elem) / (gbps * 1e9) * 1e3
                res.append({"batch": b, "kv_len": n, "gqa": g, "gbps": gbps, "median_ms": ms,
                            "config": "sm80_bm16_bn16_w4_s3_v8", "splits": 3})
    return {"device": "test", "results": res}


class DecodeGrid(unittest.TestCase):
    def error_of(self, argv):
        err = io.StringIO()
        with redirect_stderr(err), self.assertRaises(SystemExit) as cm:
            dg.parse_args(argv)
        self.assertEqual(cm.exception.code, 2)
        return err.getvalue()

    def test_defaults_are_the_issue_grid(self):
        a = dg.parse_args([])
        self.assertEqual((a.batch, a.gqa, a.kv_len), ([1, 8, 64], [1, 4, 8], [4096, 32768, 131072]))
        self.assertEqual(a.variants, ["bf16", "bf16-p16", "e4m3", "e4m3-p16"])

    def test_bad_arguments_name_the_flag(self):
        self.assertIn("--gqa", self.error_of(["--gqa", "3"]))  # does not divide 32 heads
        self.assertIn("--batch", self.error_of(["--batch", "0"]))
        self.assertIn("--kv-len", self.error_of(["--kv-len", "4k"]))
        self.assertIn("--variants", self.error_of(["--variants", "fp4"]))
        self.assertIn("--q-tokens", self.error_of(["--q-tokens", "17"]))

    def test_commands_carry_layout_and_kv_dtype(self):
        a = dg.parse_args(["--attnjit", "/x/attnjit", "--q-tokens", "4"])
        cmd = dg.attnjit_cmd(a, "e4m3-p16")
        self.assertEqual(cmd[:2], ["/x/attnjit", "bench-decode"])
        for flag, value in (("--page-size", "16"), ("--kv-dtype", "e4m3"), ("--q-tokens", "4"),
                            ("--gqa", "1,4,8"), ("--batch", "1,8,64")):
            self.assertEqual(cmd[cmd.index(flag) + 1], value)
        self.assertEqual(dg.attnjit_cmd(a, "bf16")[dg.attnjit_cmd(a, "bf16").index("--kv-dtype") + 1], "same")

    def test_table_from_synthetic_results(self):
        a = dg.parse_args(["--batch", "1,64", "--gqa", "1,8", "--kv-len", "4096,131072"])
        results = {v: bench_json(a, v, lambda b, n, g: 1000.0 + b + g) for v in a.variants}
        torch_times = {(1, 131072, 8): {"flash": {"gbps": 1500.0, "us": 10.0}, "cudnn_error": "no GQA"}}
        rows = dg.grid_rows(a, results, torch_times)
        self.assertEqual(len(rows), 8)
        table = dg.render_table(rows, a.variants, 3000.0, a.latency_mib)
        lines = table.splitlines()
        self.assertEqual(len(lines), 2 + 8)
        self.assertIn("| 1 | 4096 | 1 | latency (< 256 MiB) |", table)  # 16 MiB of K+V: latency
        big = next(l for l in lines if l.startswith("| 1 | 131072 | 8 |"))
        self.assertIn("memory", big)
        self.assertIn("1009 (0.34x)", big)  # 1000 + 1 + 8 GB/s of a 3000 GB/s ceiling
        self.assertIn("1500 (0.50x)", big)  # torch flash
        self.assertIn("no GQA", big)        # cuDNN refused the shape
        self.assertIn("skipped", next(l for l in lines if l.startswith("| 64 | 131072 | 1 |")))
        small = next(l for l in lines if l.startswith("| 1 | 4096 | 1 |"))
        self.assertRegex(small, r"\d+\.\d us")

    def test_plans_name_kernel_shape_splits_and_ctas(self):
        # GQA 8 at batch 1: 4 KV heads x 1 chunk of 16 rows x 66 splits
        self.assertEqual(dg.plan_of("sm80_bm16_bn16_w4_s3_v8", 66, 1, 4, 8, 1),
                         "tc bm16 bn16 w4 s3, 66 splits, 264 CTAs")
        # MHA on the scalar kernel: 32 KV heads x 8 sequences, unsplit
        self.assertEqual(dg.plan_of("sm80_bm1_bn16_w4_s4_v8", 1, 8, 32, 1, 1),
                         "scalar bm1 bn16 w4 s4, 1 split, 256 CTAs")
        # 8 heads x 4 tokens = 32 rows in chunks of 8
        self.assertIn("4 splits, 128 CTAs", dg.plan_of("sm80_bm8_bn32_w4_s4_v8", 4, 1, 8, 8, 4))
        a = dg.parse_args(["--batch", "1", "--gqa", "8", "--kv-len", "131072"])
        rows = dg.grid_rows(a, {v: bench_json(a, v, lambda b, n, g: 2000.0) for v in a.variants})
        plans = dg.render_plans(rows, a.variants).splitlines()
        self.assertEqual(len(plans), 3)
        self.assertEqual(plans[2].count("tc bm16 bn16 w4 s3, 3 splits, 12 CTAs"), 4)

    def test_dry_run_prints_one_command_per_variant(self):
        out = io.StringIO()
        with redirect_stdout(out):
            self.assertEqual(dg.main(["--dry-run", "--variants", "bf16,e4m3"]), 0)
        lines = out.getvalue().splitlines()
        self.assertEqual(len(lines), 3)
        self.assertIn("--kv-dtype e4m3", lines[1])
        self.assertIn("27 points x 2 variants", lines[2])

    def test_gpu_check_refuses_an_unknown_phase_first(self):
        with tempfile.TemporaryDirectory() as out:
            r = subprocess.run([os.path.join(ROOT, "scripts", "gpu-check.sh"), "decode", "bogus"],
                               env=dict(os.environ, OUT=out), capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("unknown phase 'bogus'", r.stderr)
            self.assertNotIn("=== gpu-check: decode", r.stdout)  # nothing ran


if __name__ == "__main__":
    unittest.main()
