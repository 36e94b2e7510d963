"""The GIL is released while a kernel compiles: other Python threads keep running."""

import threading
import time

import pytest

np = pytest.importorskip("numpy", reason="numpy is not installed (the reference and the CPU tests need it)")

import attnjit


def test_other_threads_run_during_compile(cpu, tmp_path):
    # A runtime with an empty disk cache compiles for real (clang: ~0.1-3 s).
    rt = attnjit.Runtime("cpu", cache_dir=str(tmp_path / "cache"))
    q = np.zeros((1, 16, 1, 96), np.float32)
    ticks = []
    stop = threading.Event()

    def counter():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    t = threading.Thread(target=counter)
    t.start()
    time.sleep(0.05)
    start = time.perf_counter()
    rt.attention(q, q, q)
    end = time.perf_counter()
    stop.set()
    t.join()
    during = [x for x in ticks if start < x < end]
    if end - start < 0.05:
        pytest.skip(f"the compile took only {end - start:.3f} s: too short to observe")
    # With the GIL held for the whole call the counter could not tick at all in between.
    assert len(during) >= 5, f"{len(during)} ticks during a {end - start:.2f} s call"
