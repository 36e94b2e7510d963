"""The torch ops' C++ kernels (attnjit/_torch_ops.so, python/torch_ops/): registered in place of
the Python ones when the library is built, the same results and errors as the Python kernels,
and the Python kernels back (ATTNJIT_TORCH_OPS=0 or no library)."""

import os
import subprocess
import sys

import pytest

np = pytest.importorskip("numpy", reason="numpy is not installed (the reference and the CPU tests need it)")

import attnjit
import reference as ref

LIB = os.path.join(os.path.dirname(attnjit.__file__), "_torch_ops.so")


@pytest.fixture
def native(torch_cpu):
    """attnjit.torch with its C++ kernels (skips where the library was not built)."""
    if not os.path.exists(LIB):
        pytest.skip(f"{LIB} is not built (torch was not importable at build time)")
    import attnjit.torch as at

    assert at.native_unavailable == "", at.native_unavailable
    assert "attention" in at.native_ops
    return torch_cpu


def kernel_sources(torch, op):
    """{dispatch key: where its kernel was registered} from torch's dispatcher."""
    rows = torch._C._dispatch_dump(f"attnjit::{op}").splitlines()
    return {r.split(":")[0]: r for r in rows if r.startswith(("CPU:", "CUDA:"))}


def randn(torch, *shape, dtype=None):
    g = torch.Generator().manual_seed(sum(shape) * 7919 + len(shape))
    return torch.randn(*shape, generator=g, dtype=dtype or torch.float32)


def test_cpp_kernels_are_registered(native):
    torch = native
    import attnjit.torch as at

    assert at.native_ops == {"attention", "attention_varlen", "attention_paged", "decode"}
    for op in sorted(at.native_ops):
        src = kernel_sources(torch, op)
        assert set(src) == {"CPU", "CUDA"}, src
        for row in src.values():  # a Python kernel would say "registered at .../torch.py"
            assert "torch_ops/table.cpp" in row and "torch.py" not in row, row


@pytest.mark.parametrize("layout", ["bshd", "bhsd"])
@pytest.mark.parametrize("variant", ["plain", "causal-gqa", "window", "softcap-alibi-sinks"])
def test_same_results_as_the_python_kernel(native, layout, variant):
    torch = native
    import attnjit.torch as at

    hq, hkv = (4, 2) if variant == "causal-gqa" else (2, 2)
    shape = (lambda s, h: (2, s, h, 32)) if layout == "bshd" else (lambda s, h: (2, h, s, 32))
    # q non-contiguous: a slice of a wider head dimension.
    q = randn(torch, *shape(24, hq)[:3], 64)[..., :32]
    k, v = randn(torch, *shape(40, hkv)), randn(torch, *shape(40, hkv)) * 0.5
    args = dict(causal=variant == "causal-gqa", window_left=None, window_right=None, scale=0.0, softcap=0.0,
                alibi_slopes=None, sinks=None)
    if variant == "window":
        args.update(window_left=7, window_right=3)
    if variant == "softcap-alibi-sinks":
        args.update(softcap=20.0, alibi_slopes=torch.tensor([0.25, 0.0625]), sinks=torch.tensor([0.5, -1.0]))
    pos = (q, k, v, args["causal"], args["window_left"], args["window_right"], args["scale"], layout,
           args["softcap"], args["alibi_slopes"], args["sinks"])
    o, lse = torch.ops.attnjit.attention(*pos)
    want_o, want_lse = at._attention_impl(*pos)  # the Python kernel, same runtime
    assert o.shape == want_o.shape and o.stride() == want_o.stride() and lse.shape == want_lse.shape
    assert torch.equal(o, want_o) and torch.equal(lse, want_lse)
    if variant in ("plain", "causal-gqa"):
        t = (lambda x: x.double().numpy()) if layout == "bshd" else (lambda x: x.transpose(1, 2).double().numpy())
        ref_o, ref_lse = ref.attention(t(q), t(k), t(v), causal=args["causal"])
        ref.assert_close(t(o), ref_o, 2e-5, "out")
        ref.assert_close(lse.double().numpy(), ref_lse, 2e-5, "lse")


@pytest.mark.parametrize("variant", ["contiguous", "paged-causal-window", "fp8-e4m3", "uint8-e5m2-alibi-sinks"])
def test_decode_same_results_as_the_python_kernel(native, variant):
    torch = native
    import attnjit.torch as at

    b, t, hq, hkv, d, page = 3, 2, 4, 2, 32, 16
    q = randn(torch, b, t, hq, d)
    lens = torch.tensor([40, 7, 64], dtype=torch.int32)
    kw = dict(block_table=None, causal=False, window_left=None, window_right=None, scale=0.0, max_seqlen_k=None,
              softcap=0.0, k_scale=None, v_scale=None, kv_dtype=None, alibi_slopes=None, sinks=None)
    if variant == "paged-causal-window":
        k, v = randn(torch, 16, page, hkv, d), randn(torch, 16, page, hkv, d)
        kw.update(block_table=torch.randperm(16, generator=torch.Generator().manual_seed(3))[:12].reshape(b, 4)
                  .to(torch.int32), causal=True, window_left=9, window_right=0, max_seqlen_k=64)
    else:
        k, v = randn(torch, b, 64, hkv, d), randn(torch, b, 64, hkv, d) * 0.5
    if variant == "fp8-e4m3":
        k, v = (k * 4).to(torch.float8_e4m3fn), (v * 4).to(torch.float8_e4m3fn)
        kw.update(k_scale=torch.tensor([0.25, 0.5]), v_scale=torch.tensor([0.125, 0.25]))
    if variant == "uint8-e5m2-alibi-sinks":
        k, v = k.to(torch.float8_e5m2).view(torch.uint8), v.to(torch.float8_e5m2).view(torch.uint8)
        kw.update(k_scale=torch.tensor(0.5), v_scale=torch.tensor(2.0), kv_dtype="e5m2",
                  alibi_slopes=torch.tensor([0.5, 0.25, 0.125, 0.0625]), sinks=torch.tensor([0.0, 1.0, -1.0, 2.0]),
                  softcap=15.0)
    pos = (q, k, v, lens, *kw.values())
    o, lse = torch.ops.attnjit.decode(*pos)
    want_o, want_lse = at._decode_impl(*pos)  # the Python kernel, same runtime
    assert o.shape == want_o.shape and o.dtype == q.dtype and lse.shape == (b, hq, t)
    assert torch.equal(o, want_o) and torch.equal(lse, want_lse)
    if variant == "contiguous":  # one sequence against the float64 reference
        n = int(lens[0])
        want = ref.attention(q[:1].double().numpy(), k[:1, :n].double().numpy(), v[:1, :n].double().numpy())[0]
        ref.assert_close(o[:1].double().numpy(), want, 2e-5, "out")


def test_decode_errors_name_the_argument(native):
    torch = native
    op = torch.ops.attnjit.decode
    q, k = randn(torch, 2, 1, 4, 32), randn(torch, 2, 64, 2, 32)
    lens = torch.tensor([3, 64], dtype=torch.int32)
    tail = (False, None, None, 0.0, None)
    with pytest.raises(TypeError, match=r"^cache_seqlens: dtype must be int32, got int64"):
        op(q, k, k, lens.long(), None, *tail)
    with pytest.raises(ValueError, match=r"^cache_seqlens\[1\]: 65 exceeds the cache's capacity 64"):
        op(q, k, k, lens + 1, None, *tail)
    with pytest.raises(ValueError, match=r"^k_scale: only an fp8 KV cache"):
        op(q, k, k, lens, None, *tail, 0.0, torch.tensor(1.0), torch.tensor(1.0))
    with pytest.raises(TypeError, match=r"^k_cache: uint8 holds fp8 codes only with kv_dtype"):
        op(q, k.to(torch.uint8), k.to(torch.uint8), lens, None, *tail)
    with pytest.raises(ValueError, match=r"^kv_dtype: unknown value 'e4m4'"):
        op(q, k.to(torch.uint8), k.to(torch.uint8), lens, None, *tail, 0.0, None, None, "e4m4")
    with pytest.raises(TypeError, match=r"^block_table: dtype must be int32"):
        op(q, k, k, lens, torch.zeros(2, 4, dtype=torch.int64), *tail)


def test_varlen_and_paged_same_results_as_the_python_kernel(native):
    torch = native
    import attnjit.torch as at

    lens = [9, 0, 30]
    cu = torch.tensor([0, 9, 9, 39], dtype=torch.int32)
    q, k, v = randn(torch, 39, 4, 32), randn(torch, 39, 2, 32), randn(torch, 39, 2, 32) * 0.5
    pos = (q, k, v, cu, cu, None, None, max(lens), max(lens), True, 5, 0, 0.0, 10.0)
    o, lse = torch.ops.attnjit.attention_varlen(*pos)
    want_o, want_lse = at._attention_varlen_impl(*pos)
    assert lse.shape == (4, 39) and torch.equal(o, want_o) and torch.equal(lse, want_lse)
    cache = randn(torch, 8, 4, 2, 32)
    table = torch.tensor([[3, 1, 7, 0], [5, 2, 6, 4]], dtype=torch.int32)
    used = torch.tensor([16, 7], dtype=torch.int32)
    for qd, pos in [(randn(torch, 2, 5, 4, 32), None), (randn(torch, 5, 4, 32), "varlen")]:
        if pos is None:  # attention_paged: q [b, sq, hq, d]
            pos = (qd, cache, cache, used, table, True, None, None, 0.0, 0.0)
            o, lse = torch.ops.attnjit.attention_paged(*pos)
            want_o, want_lse = at._attention_paged_impl(*pos)
        else:  # attention_varlen over a paged cache: q packed, cu_seqlens_q
            pos = (qd, cache, cache, torch.tensor([0, 2, 5], dtype=torch.int32), None, used, table, 3, 16, False,
                   None, None, 0.0, 0.0)
            o, lse = torch.ops.attnjit.attention_varlen(*pos)
            want_o, want_lse = at._attention_varlen_impl(*pos)
        assert torch.equal(o, want_o) and torch.equal(lse, want_lse)
    with pytest.raises(ValueError, match=r"^cu_seqlens_k: not with a paged cache"):
        torch.ops.attnjit.attention_varlen(qd, cache, cache, cu[:3], cu[:3], used, table, 3, 16, False, None, None,
                                           0.0, 0.0)
    with pytest.raises(TypeError, match=r"^cache_seqlens: dtype must be int32, got int64"):
        torch.ops.attnjit.attention_paged(randn(torch, 2, 5, 4, 32), cache, cache, used.long(), table, True, None,
                                          None, 0.0, 0.0)


def test_errors_name_the_argument(native):
    torch = native
    op = torch.ops.attnjit.attention
    q = randn(torch, 1, 16, 2, 32)
    bad = [
        (TypeError, r"^q: dtype float64 is not supported", (q.double(), q, q)),
        (TypeError, r"^k: dtype bfloat16 differs from q's float32", (q, q.bfloat16(), q)),
        (ValueError, r"^v: the last dimension must be contiguous \(stride 1\), got stride 2",
         (q, q, randn(torch, 1, 16, 2, 64)[..., ::2])),
        (ValueError, r"^q: expected 4 dimensions", (q[0], q, q)),
        (ValueError, r"^v: seqlen is 8 but k has 16", (q, q, q[:, :8])),
    ]
    for kind, match, (a, b, c) in bad:
        with pytest.raises(kind, match=match):
            op(a, b, c, False, None, None, 0.0, "bshd")
    with pytest.raises(ValueError, match=r"^layout: unknown value 'bsdh'"):
        op(q, q, q, False, None, None, 0.0, "bsdh")
    with pytest.raises(ValueError, match=r"^window: with causal=True the right width must be 0"):
        op(q, q, q, True, 4, 2, 0.0, "bshd")
    with pytest.raises(TypeError, match=r"^alibi_slopes: dtype must be float32, got float64"):
        op(q, q, q, False, None, None, 0.0, "bshd", 0.0, torch.zeros(2, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"^sinks: heads_q is 3 but q has 2"):
        op(q, q, q, False, None, None, 0.0, "bshd", 0.0, None, torch.zeros(3))


def test_empty_batch(native):
    torch = native
    q = torch.empty(0, 16, 2, 32)
    o, lse = torch.ops.attnjit.attention(q, q, q, False, None, None, 0.0, "bshd")
    assert o.shape == q.shape and lse.shape == (0, 2, 16)


def test_compile_fullgraph_through_the_cpp_kernel(native):
    torch = native
    q = randn(torch, 1, 16, 2, 32)
    f = torch.compile(lambda a: torch.ops.attnjit.attention(a, a, a, True, None, None, 0.0, "bshd")[0] * 2,
                      fullgraph=True, backend="eager")
    torch.testing.assert_close(f(q), torch.ops.attnjit.attention(q, q, q, True, None, None, 0.0, "bshd")[0] * 2)


FALLBACK = r"""
import sys, torch, attnjit.torch as at
assert at.native_ops == frozenset() and at.native_unavailable == "ATTNJIT_TORCH_OPS=0", (at.native_ops, at.native_unavailable)
rows = [r for r in torch._C._dispatch_dump("attnjit::attention").splitlines() if r.startswith("CPU:")]
assert len(rows) == 1 and "table.cpp" not in rows[0], rows
q = torch.load(sys.argv[1])
o, lse = torch.ops.attnjit.attention(q, q, q, True, None, None, 0.0, "bshd")
torch.save((o, lse), sys.argv[2])
try:
    torch.ops.attnjit.attention(q.double(), q, q, True, None, None, 0.0, "bshd")
except TypeError as e:
    print("TypeError:", e)
"""


def test_python_fallback_with_ATTNJIT_TORCH_OPS_0(torch_cpu, tmp_path):
    torch = torch_cpu
    import attnjit.torch  # noqa: F401

    q = randn(torch, 1, 16, 2, 32)
    torch.save(q, tmp_path / "q.pt")
    env = dict(os.environ, ATTNJIT_TORCH_OPS="0")
    r = subprocess.run([sys.executable, "-c", FALLBACK, str(tmp_path / "q.pt"), str(tmp_path / "out.pt")], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "TypeError: q: dtype float64 is not supported" in r.stdout, r.stdout
    o, lse = torch.load(tmp_path / "out.pt")
    want_o, want_lse = torch.ops.attnjit.attention(q, q, q, True, None, None, 0.0, "bshd")  # C++ when built
    assert torch.equal(o, want_o) and torch.equal(lse, want_lse)


ABSENT = r"""
import warnings, torch
if __import__("sys").argv[1] == "other-torch":
    torch.__version__ = "0.0.1"  # as if torch were upgraded after the build
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    import attnjit.torch as at
print("native", sorted(at.native_ops), "|", at.native_unavailable, "|", [str(x.message) for x in w])
q = torch.ones(1, 4, 1, 32)
print("ok", float(torch.ops.attnjit.attention(q, q, q, False, None, None, 0.0, "bshd")[0].sum()))
"""


@pytest.mark.parametrize("case", ["not-built", "other-torch"])
def test_python_kernels_without_a_usable_library(native, tmp_path, case):
    # not-built: the package without _torch_ops.so (a plain `pip install .`); other-torch: the
    # library refuses a torch other than the one it was built against, with a warning.
    pkg = os.path.dirname(attnjit.__file__)
    (tmp_path / "attnjit").mkdir()
    for name in os.listdir(pkg):
        if case == "other-torch" or name != "_torch_ops.so":
            os.symlink(os.path.join(pkg, name), tmp_path / "attnjit" / name)
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    r = subprocess.run([sys.executable, "-c", ABSENT, case], env=env, capture_output=True, text=True, timeout=300,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    want = "is not built" if case == "not-built" else "was built for torch"
    assert "native [] |" in r.stdout and want in r.stdout, r.stdout
    assert ("use their Python kernels" in r.stdout) == (case == "other-torch"), r.stdout
    assert "ok 128.0" in r.stdout, r.stdout


def test_cuda_cpp_kernel_on_the_current_stream(cuda):
    torch = cuda
    import attnjit.torch as at

    if "attention" not in at.native_ops:
        pytest.skip(f"no C++ kernels: {at.native_unavailable}")
    assert "torch_ops/table.cpp" in kernel_sources(torch, "attention")["CUDA"]
    q, k, v = (torch.randn(2, 300, 4, 64, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        torch.cuda._sleep(50_000_000)  # ~25 ms: on another stream the kernel would read k2 unwritten
        k2 = k * 2
        o, lse = torch.ops.attnjit.attention(q, k2, v, True, None, None, 0.0, "bshd")
    s.synchronize()
    want_o, want_lse = at._attention_impl(q, k * 2, v, True, None, None, 0.0, "bshd")
    torch.cuda.synchronize()
    assert torch.equal(o, want_o) and torch.equal(lse, want_lse)
    with pytest.raises(ValueError, match=r"^k: is on cpu but the runtime runs on cuda:0"):
        torch.ops.attnjit.attention(q, k.cpu(), v, True, None, None, 0.0, "bshd")
    with pytest.raises(TypeError, match=r"^v: dtype float16 differs from q's bfloat16"):
        torch.ops.attnjit.attention(q, k, v.half(), True, None, None, 0.0, "bshd")
