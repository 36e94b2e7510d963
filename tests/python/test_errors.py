"""Every bad input gets the promised error: TypeError / ValueError naming the argument."""

import pytest

np = pytest.importorskip("numpy", reason="numpy is not installed (the reference and the CPU tests need it)")

import attnjit


def arr(*shape, dtype=np.float32):
    return np.zeros(shape, dtype)


Q = arr(1, 16, 2, 32)


@pytest.mark.parametrize("args,kw,exc,match", [
    (([[1.0]], Q, Q), {}, TypeError, r"^q: expected an array"),
    ((Q, None, Q), {}, TypeError, r"^k: expected an array, got None"),
    ((arr(1, 16, 2, 32, dtype=np.int32),) * 3, {}, TypeError, r"^q: dtype int32 is not supported"),
    ((Q, arr(1, 16, 2, 32, dtype=np.float16), Q), {}, TypeError, r"^k: dtype float16 differs from q's float32"),
    ((arr(16, 2, 32), Q, Q), {}, ValueError, r"^q: expected 4 dimensions"),
    ((Q, arr(1, 16, 2, 64), Q), {}, ValueError, r"^k: head_dim is 64 but q has 32"),
    ((Q, Q, arr(2, 16, 2, 32)), {}, ValueError, r"^v: batch is 2 but q has 1"),
    ((Q, Q, arr(1, 17, 2, 32)), {}, ValueError, r"^v: seqlen is 17 but k has 16"),
    ((Q, arr(1, 16, 3, 32), arr(1, 16, 3, 32)), {}, ValueError, r"^heads_q: must be a multiple of heads_kv"),
    ((arr(1, 16, 2, 48),) * 3, {}, ValueError, r"^head_dim: unsupported value 48"),
    ((arr(1, 16, 2, 64)[..., ::2], Q, Q), {}, ValueError, r"^q: the last dimension must be contiguous"),
    ((Q, Q, Q), dict(layout="sbhd"), ValueError, r"^layout: unknown value 'sbhd'"),
    ((Q, Q, Q), dict(window=8), TypeError, r"^window: expected a pair"),
    ((Q, Q, Q), dict(window=(1.5, 0)), TypeError, r"^window: expected two ints"),
    ((Q, Q, Q), dict(window=(-1, 0)), ValueError, r"window_left: "),
    ((Q, Q, Q), dict(window=(4, 2), causal=True), ValueError, r"^window: with causal=True"),
    ((Q, Q, Q), dict(softcap=0.0), ValueError, r"^softcap: must be a finite number > 0"),
    ((Q, Q, Q), dict(softcap=float("inf")), ValueError, r"^softcap: must be a finite number > 0"),
    ((Q, Q, Q), dict(softcap="30"), TypeError, r"^softcap: expected a float"),
    ((Q, Q, Q), dict(alibi_slopes=arr(3)), ValueError, r"^alibi_slopes: heads_q is 3 but q has 2"),
    ((Q, Q, Q), dict(alibi_slopes=arr(2, 2)), ValueError, r"^alibi_slopes: batch is 2 but q has 1"),
    ((Q, Q, Q), dict(alibi_slopes=arr(1, 1, 2)), ValueError, r"^alibi_slopes: expected shape \[heads_q\]"),
    ((Q, Q, Q), dict(alibi_slopes=arr(2, dtype=np.float64)), TypeError, r"^alibi_slopes: dtype must be float32"),
    ((Q, Q, Q), dict(alibi_slopes=np.array([0.5, np.nan], np.float32)), ValueError, r"alibi_slopes\[0, 1\]: must be finite"),
    ((Q, Q, Q), dict(sinks=arr(2, dtype=np.float16)), TypeError, r"^sinks: dtype must be float32, got float16"),
    ((Q, Q, Q), dict(sinks=arr(3)), ValueError, r"^sinks: heads_q is 3 but q has 2"),
    ((Q, Q, Q), dict(sinks=np.array([0.0, np.nan], np.float32)), ValueError, r"sinks\[1\]: must be a number"),
    ((Q, Q, Q), dict(scale=0.0), ValueError, r"^scale: must be > 0"),
    ((Q, Q, Q), dict(scale="1"), TypeError, r"^scale: expected a float"),
    ((Q, Q, Q), dict(out=arr(1, 16, 2, 32, dtype=np.float16)), TypeError, r"^out: dtype float16 differs"),
    ((Q, Q, Q), dict(out=arr(1, 15, 2, 32)), ValueError, r"^out: seqlen is 15 but q has 16"),
    ((Q, Q, Q), dict(out=Q), ValueError, r"^out: overlaps the memory of q"),
])
def test_attention_bad_input(cpu, args, kw, exc, match):
    with pytest.raises(exc, match=match):
        attnjit.attention(*args, **kw)


def test_read_only_out(cpu):
    out = arr(1, 16, 2, 32)
    out.flags.writeable = False
    with pytest.raises(ValueError, match=r"^out: is read-only"):
        attnjit.attention(arr(1, 16, 2, 32), Q, Q, out=out)


def test_overlapping_out_view(cpu):
    buf = arr(1, 32, 2, 32)
    with pytest.raises(ValueError, match=r"^out: overlaps the memory of k"):
        attnjit.attention(arr(1, 16, 2, 32), buf[:, :16], buf[:, 16:].copy(), out=buf[:, 8:24])


def test_bad_lse(cpu):
    rt = attnjit.default_runtime("cpu")
    with pytest.raises(TypeError, match=r"^lse: dtype must be float32, got float64"):
        rt.prefill_into(Q, Q, Q, arr(1, 16, 2, 32), arr(1, 2, 16, dtype=np.float64))
    with pytest.raises(ValueError, match=r"^lse: seqlen_q is 8 but q has 16"):
        rt.prefill_into(Q, Q, Q, arr(1, 16, 2, 32), arr(1, 2, 8))


def test_spec_error_is_value_error():
    assert issubclass(attnjit.SpecError, ValueError)
    assert issubclass(attnjit.BackendError, RuntimeError)


D_Q = arr(2, 1, 4, 32)
D_K = arr(2, 64, 2, 32)
LENS = np.array([64, 10], np.int32)


@pytest.mark.parametrize("args,kw,exc,match", [
    ((D_Q, D_K, D_K, LENS.astype(np.int64)), {}, TypeError, r"^cache_seqlens: dtype must be int32, got int64"),
    ((D_Q, D_K, D_K, np.array([64], np.int32)), {}, ValueError, r"^cache_seqlens: batch is 1 but q has 2"),
    ((D_Q, D_K, D_K, np.array([65, 1], np.int32)), {}, ValueError, r"^cache_seqlens\[0\]: 65 exceeds"),
    ((D_Q, D_K, D_K, np.array([-1, 1], np.int32)), {}, ValueError, r"seqlens_k\[0\]: -1 is outside"),
    ((arr(2, 17, 4, 32), D_K, D_K, LENS), {}, ValueError, r"^q_tokens: .* 1\.\.16, got 17"),
    ((D_Q, arr(3, 64, 2, 32), arr(3, 64, 2, 32), LENS), {}, ValueError, r"^k_cache: batch is 3 but q has 2"),
    ((D_Q, D_K, arr(2, 64, 2, 64), LENS), {}, ValueError, r"^v_cache: head_dim is 64 but q has 32"),
    ((D_Q, arr(4, 16, 2, 32), arr(4, 16, 2, 32), LENS), dict(block_table=np.zeros((2, 4), np.int64)), TypeError,
     r"^block_table: dtype must be int32"),
    ((D_Q, arr(4, 16, 2, 32), arr(4, 16, 2, 32), LENS), dict(block_table=np.full((2, 4), 9, np.int32)), ValueError,
     r"block_table\[0\]\[0\]: page 9 is outside 0\.\.3"),
    ((D_Q, arr(4, 24, 2, 32), arr(4, 24, 2, 32), np.array([8, 8], np.int32)),
     dict(block_table=np.zeros((2, 2), np.int32)), ValueError, r"^page_size: must be 0 \(contiguous\) or a power of two"),
    ((D_Q, D_K, D_K, LENS), dict(max_seqlen_k="64"), TypeError, r"^max_seqlen_k: expected an int"),
])
def test_decode_bad_input(cpu, args, kw, exc, match):
    with pytest.raises(exc, match=match):
        attnjit.decode(*args, **kw)


def test_torch_bad_input(torch_cpu):
    torch = torch_cpu
    q = torch.zeros(1, 16, 2, 32)
    with pytest.raises(TypeError, match=r"^k: dtype bfloat16 differs from q's float32"):
        attnjit.attention(q, q.bfloat16(), q)
    with pytest.raises(ValueError, match=r"^v: seqlen is 8 but k has 16"):
        attnjit.attention(q, q, q[:, :8])
    with pytest.raises(TypeError, match=r"^cache_seqlens: dtype must be int32"):
        attnjit.decode(q[:, :1], q, q, torch.tensor([16]))


def test_problem_keys_bad_input():
    with pytest.raises(ValueError, match="dtype"):
        attnjit.problem("prefill_f64_hd128_causal_g1_q16_k16")
    with pytest.raises(ValueError, match="head_dim"):
        attnjit.PrefillProblem(head_dim=100).key
    with pytest.raises(TypeError, match="^problem: expected a key string"):
        attnjit.problem(42)


def test_tune_bad_input(tmp_path):
    db = str(tmp_path / "t.db")
    with pytest.raises(ValueError, match="strategy"):
        attnjit.tune("prefill_f32_hd64_none_g1_q128_k128_even", db=db, strategy="greedy", progress=False)
    with pytest.raises(ValueError, match="budget"):
        attnjit.tune("prefill_f32_hd64_none_g1_q128_k128_even", db=db, budget=4, progress=False)
    with pytest.raises(TypeError, match="^budget: expected an int"):
        attnjit.tune("prefill_f32_hd64_none_g1_q128_k128_even", db=db, budget=4.5, strategy="random", progress=False)
    with pytest.raises(TypeError, match="^problems: expected a problem key"):
        attnjit.tune([3], db=db, progress=False)
