"""bench/python_gpu_e2e.py, issue 17's GPU end-to-end benchmark, checked on the CPU backend (the
script's own --backend cpu mode) so its first GPU run is not its first run: every path is timed,
the C++ figure is taken before and after, and the same-run ratios are to Runtime.prefill_into."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_e2e_script_on_the_cpu_backend(cpu, tmp_path):
    cli = os.environ.get("ATTNJIT_CLI")
    if not cli:
        pytest.skip("ATTNJIT_CLI is not set (ctest sets it to the built attnjit executable)")
    out = tmp_path / "e2e.json"
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "python_gpu_e2e.py"), "--attnjit", cli, "--backend", "cpu",
                        "--seqlen", "64", "--total-tokens", "128", "--hidden", "64", "--head-dim", "32", "--reps", "2",
                        "--warmup", "1", "--back-to-back", "2", "--json-out", str(out)],
                       capture_output=True, text=True, env=dict(os.environ), timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = json.loads(out.read_text())["rows"]
    paths = {(x["mask"], x["path"]) for x in rows}
    for m in ("none", "causal"):
        for p in ("Runtime.prefill_into", "attnjit.attention", "torch.ops.attnjit"):
            assert (m, p) in paths and (m, f"{p} x2 back-to-back") in paths, paths
    for x in rows:
        assert x["cpp_ms_before"] > 0 and x["cpp_ms_after"] > 0
        assert x["cpp_ms"] == pytest.approx(0.5 * (x["cpp_ms_before"] + x["cpp_ms_after"]))
        assert x["ratio"] == pytest.approx(x["ms"] / x["cpp_ms"])
        assert x["config"] == x["cpp_config"]
        if x["path"].startswith("Runtime.prefill_into"):
            assert x["ratio_same_run"] == 1.0
    assert "python_gpu_e2e: goal" in r.stdout
