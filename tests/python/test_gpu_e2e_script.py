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
                        "--warmup", "1", "--back-to-back", "2", "--settle-ms", "30", "--json-out", str(out)],
                       capture_output=True, text=True, env=dict(os.environ), timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    info = json.loads(out.read_text())
    rows = info["rows"]
    # The settle time reaches the CLI as a warm-up count derived from its own first run.
    assert info["settle_ms"] == 30 and info["cli_warmup"] >= 1
    assert info["clock_samples"] == 0  # no GPU, no sampler
    paths = {(x["mask"], x["path"]) for x in rows}
    for m in ("none", "causal"):
        for p in ("Runtime.prefill_into", "attnjit.attention", "torch.ops.attnjit"):
            assert (m, p) in paths and (m, f"{p} x2 back-to-back") in paths, paths
    for x in rows:
        assert x["cpp_ms_before"] > 0 and x["cpp_ms_after"] > 0
        assert x["cpp_ms"] == pytest.approx(0.5 * (x["cpp_ms_before"] + x["cpp_ms_after"]))
        assert x["ratio"] == pytest.approx(x["ms"] / x["cpp_ms"])
        assert x["config"] == x["cpp_config"]
        assert x["clock"] is None and x["cpp_clock_before"] is None and x["cpp_clock_after"] is None
        if x["path"].startswith("Runtime.prefill_into"):
            assert x["ratio_same_run"] == 1.0
    assert "python_gpu_e2e: goal" in r.stdout


def test_clock_log_reads_busy_samples_of_a_window(tmp_path, monkeypatch):
    """The SM-clock sampler behind the script's SM MHz columns, against a stand-in nvidia-smi:
    only busy samples (utilisation >= 50%) inside the window count, unreadable lines are skipped."""
    import importlib.util
    import time

    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\n"
                    "echo \"$@\" > \"$(dirname \"$0\")/args\"\n"
                    "echo '1980, 650.5, 100'\necho '[N/A], [N/A], [N/A]'\necho '1755, 700.0, 99'\n"
                    "echo '1410, 90.0, 0'\nexec sleep 30\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    spec = importlib.util.spec_from_file_location("python_gpu_e2e", ROOT / "bench" / "python_gpu_e2e.py")
    e2e = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(e2e)

    t0 = time.monotonic()
    log = e2e.ClockLog(True, device_index=3)
    deadline = time.monotonic() + 10
    while len(log.samples) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    t1 = time.monotonic()
    log.close()
    assert len(log.samples) == 3  # the [N/A] line is no sample
    w = log.window(t0, t1)
    assert w == {"sm_mhz": 1867.5, "power_w": 675.25, "samples": 2}  # the idle 1410 MHz sample is left out
    assert log.window(t1 + 1, t1 + 2) is None
    assert "-i 3" in (tmp_path / "args").read_text()
    assert e2e.ClockLog(False).samples == [] and e2e.ClockLog(False).window(t0, t1) is None
