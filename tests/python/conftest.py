"""Shared fixtures: which backends this machine has (tests skip with the reason printed)."""

import functools
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # reference.py

import attnjit  # noqa: E402


@functools.lru_cache(maxsize=None)
def backend_missing(kind):
    """None when a runtime of `kind` opens, else the reason."""
    try:
        attnjit.default_runtime(kind)
        return None
    except attnjit.BackendError as e:
        return f"no {kind} backend: {e}"


def torch_or_skip():
    try:
        import torch
    except ImportError as e:
        pytest.skip(f"torch is not installed ({e}); scripts/setup.sh puts it in ~/.cache/attnjit-pyenv")
    return torch


@pytest.fixture
def cpu():
    why = backend_missing("cpu")
    if why:
        pytest.skip(why)
    return attnjit.default_runtime("cpu")


@pytest.fixture
def torch_cpu(cpu):
    return torch_or_skip()


@pytest.fixture
def cuda():
    torch = torch_or_skip()
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device visible to torch (the CUDA tests run on the GPU machine: scripts/gpu-check.sh)")
    why = backend_missing("cuda")
    if why:
        pytest.skip(why)
    return torch


@pytest.fixture
def rng():
    np = pytest.importorskip("numpy")
    return np.random.default_rng(1234)


def pytest_configure(config):
    config.addinivalue_line("markers", "cuda: uses a CUDA device (the cuda fixture); `-m cuda` runs these alone")


def pytest_collection_modifyitems(config, items):
    # Every test that takes the cuda fixture carries the marker, so the GPU machine's phase
    # (scripts/gpu-python.sh) selects exactly them.
    for item in items:
        if "cuda" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.cuda)


def pytest_report_header(config):
    lines = [f"attnjit {attnjit.__version__} from {os.path.dirname(attnjit.__file__)}"]
    for kind in ("cpu", "cuda"):
        lines.append(f"{kind} backend: {backend_missing(kind) or attnjit.default_runtime(kind).describe()}")
    return lines
