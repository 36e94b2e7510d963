"""Tuning from Python writes a database that the CLI and a Runtime read."""

import json
import logging
import os
import subprocess

import pytest

import attnjit

# The smallest CPU problem of the smoke preset; two random candidates, brief measurements.
PROBLEM = "prefill_f32_hd64_none_g1_q128_k128_even"


def test_tune_then_cli_and_runtime_read_it(cpu, tmp_path, caplog, capsys):
    caplog.set_level(logging.INFO, logger="attnjit.tune")
    db = str(tmp_path / "tuned.db")
    events = []
    results = attnjit.tune([attnjit.problem(PROBLEM)], db=db, strategy="random", budget=2, backend="cpu",
                           measure_seconds=0.05, progress=False, on_event=events.append)
    assert len(results) == 1
    r = results[0]
    assert r.problem == PROBLEM and not r.error, r.error
    assert r.best is not None and r.best_ms > 0
    assert any(c.config == r.best and c.status == "ok" for c in r.candidates)
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "problem_started" and kinds[-1] == "problem_done" and "candidate" in kinds
    # Events also go to logging; progress=False prints nothing.
    assert any(f"best {r.best}" in m for m in caplog.messages), caplog.messages
    assert capsys.readouterr().err == ""

    # The CLI reads the database Python wrote.
    cli = os.environ.get("ATTNJIT_CLI")
    if not cli:
        pytest.skip("ATTNJIT_CLI is not set (ctest sets it to the built attnjit executable)")
    out = subprocess.run([cli, "db", "best", "--db", db, "--problem", PROBLEM], check=True, capture_output=True,
                         text=True).stdout
    entries = json.loads(out)["best"]
    assert [(e["problem"], e["config"]) for e in entries] == [(PROBLEM, r.best)], out

    # And a runtime with it as config provider picks the tuned config.
    b = attnjit.best(PROBLEM, db=db, backend="cpu")
    assert (b.config, b.source) == (r.best, "db:exact")
    rt = attnjit.Runtime("cpu", db=db)
    assert rt.plan(PROBLEM) == (r.best, "db:exact")


def test_best_without_entry_is_default(cpu, tmp_path):
    b = attnjit.best("prefill_f32_hd32_causal_g1_q16_k16", db=str(tmp_path / "empty.db"))
    assert b.source == "default" and b.median_ms is None


def test_tune_fp8_decode_dataclass(cpu, tmp_path):
    # A decode problem over an fp8 cache, given as a dataclass: its key keeps _kv-e4m3 through the
    # tuner and the database (it used to be dropped, tuning the bf16-cache problem instead).
    p = attnjit.DecodeProblem(dtype="f32", head_dim=64, group=2, q_tokens=1, seqlen_k=256, kv_dtype="e4m3")
    assert p.key == "decode_f32_hd64_none_g2_q1_k256_p0_kv-e4m3"
    db = str(tmp_path / "fp8.db")
    (r,) = attnjit.tune([p], db=db, strategy="random", budget=2, backend="cpu", measure_seconds=0.05, progress=False)
    assert r.problem == p.key and not r.error and r.best, r
    b = attnjit.best(p, db=db, backend="cpu")
    assert (b.problem, b.config, b.source) == (p.key, r.best, "db:exact")
    assert attnjit.problem(b.problem) == p
