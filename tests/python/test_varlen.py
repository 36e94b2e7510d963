"""attnjit.attention_varlen and paged prefill (attnjit.attention with block_table) on the CPU
backend against the float64 reference, per sequence; bad arguments name the argument."""

import pytest

np = pytest.importorskip("numpy", reason="numpy is not installed (the reference and the CPU tests need it)")

import attnjit
import reference as ref


def packed(rng, lens, h, d):
    return rng.standard_normal((sum(lens), h, d)).astype(np.float32)


def offsets(lens):
    return np.concatenate([[0], np.cumsum(lens)]).astype(np.int32)


@pytest.mark.parametrize("causal", [False, True])
def test_varlen_against_reference(cpu, rng, causal):
    lq, lk = [37, 0, 5, 80], [37, 3, 20, 80]
    q, k, v = packed(rng, lq, 4, 32), packed(rng, lk, 2, 32), packed(rng, lk, 2, 32)
    cq, ck = offsets(lq), offsets(lk)
    o, lse = attnjit.attention_varlen(q, k, v, cq, ck, max(lq), max(lk), causal=causal, return_lse=True)
    assert o.shape == q.shape and lse.shape == (4, sum(lq))
    atol_o, atol_lse = ref.tolerance("f32")
    for b in range(len(lq)):
        if lq[b] == 0:
            continue
        sl_q, sl_k = slice(cq[b], cq[b + 1]), slice(ck[b], ck[b + 1])
        want_o, want_lse = ref.attention(q[None, sl_q], k[None, sl_k], v[None, sl_k], causal=causal)
        ref.assert_close(o[None, sl_q], want_o, atol_o, f"out of sequence {b}")
        ref.assert_close(lse[None, :, sl_q], want_lse, atol_lse, f"lse of sequence {b}")


def test_paged_prefill_against_reference(cpu, rng):
    # Chunked prefill: 24 new tokens per sequence against caches of 100 and 24 keys, 8-token pages.
    b, n, hq, hkv, d, page = 2, 24, 4, 2, 64, 8
    lens = [100, 24]
    pages = sum((L + page - 1) // page for L in lens) + 2
    order = rng.permutation(pages).astype(np.int32)
    k_cache = rng.standard_normal((pages, page, hkv, d)).astype(np.float32)
    v_cache = rng.standard_normal((pages, page, hkv, d)).astype(np.float32)
    table = np.full((b, 13), -1, dtype=np.int32)
    at = 0
    for i, L in enumerate(lens):
        for p in range((L + page - 1) // page):
            table[i, p] = order[at]
            at += 1
    q = rng.standard_normal((b, n, hq, d)).astype(np.float32)
    o, lse = attnjit.attention(q, k_cache, v_cache, block_table=table, cache_seqlens=np.array(lens, np.int32),
                               causal=True, return_lse=True)
    atol_o, atol_lse = ref.tolerance("f32")
    for i, L in enumerate(lens):
        idx = table[i, : (L + page - 1) // page]
        k = k_cache[idx].reshape(-1, hkv, d)[:L]
        v = v_cache[idx].reshape(-1, hkv, d)[:L]
        want_o, want_lse = ref.attention(q[i : i + 1], k[None], v[None], causal=True)
        ref.assert_close(o[i : i + 1], want_o, atol_o, f"out of sequence {i}")
        ref.assert_close(lse[i : i + 1], want_lse, atol_lse, f"lse of sequence {i}")


def test_bad_arguments_name_the_argument(cpu, rng):
    q = packed(rng, [5, 9], 2, 32)
    good = offsets([5, 9])
    with pytest.raises(attnjit.SpecError, match="cu_seqlens_q"):
        attnjit.attention_varlen(q, q, q, np.array([0, 9, 5], np.int32), good, 9, 9)
    with pytest.raises(attnjit.SpecError, match="max_seqlen_q"):
        attnjit.attention_varlen(q, q, q, good, good, 8, 9)
    with pytest.raises(TypeError, match="cu_seqlens_k"):
        attnjit.attention_varlen(q, q, q, good, good.astype(np.int64), 9, 9)
    with pytest.raises(TypeError, match="max_seqlen_k"):
        attnjit.attention_varlen(q, q, q, good, good, 9, 9.0)
    with pytest.raises(ValueError, match="block_table / cache_seqlens"):
        attnjit.attention(q[None], q[None], q[None], cache_seqlens=np.array([5], np.int32))


def test_torch_ops_fake_and_compile(torch_cpu):
    torch = torch_cpu
    import attnjit.torch  # noqa: F401  (registers the ops)

    g = torch.Generator().manual_seed(3)
    lens = [9, 0, 30]
    cu = torch.tensor(offsets(lens), dtype=torch.int32)
    q = torch.randn(sum(lens), 4, 32, generator=g)
    k = torch.randn(sum(lens), 2, 32, generator=g)
    o, lse = attnjit.attention_varlen(q, k, k, cu, cu, max(lens), max(lens), causal=True, return_lse=True)
    assert o.shape == q.shape and lse.shape == (4, sum(lens))
    want, _ = ref.attention(q[None, 9:].double().numpy(), k[None, 9:].double().numpy(), k[None, 9:].double().numpy(),
                            causal=True)
    ref.assert_close(o[None, 9:].double().numpy(), want, ref.tolerance("f32")[0], "out")
    # The fake implementations give the shapes (opcheck runs them against the real ones).
    torch.library.opcheck(torch.ops.attnjit.attention_varlen.default,
                          (q, k, k, cu, cu, None, None, max(lens), max(lens), True, None, None, 0.0, 0.0))
    table = torch.arange(8, dtype=torch.int32).reshape(2, 4)
    cache = torch.randn(8, 4, 2, 32, generator=g)
    qd = torch.randn(2, 5, 4, 32, generator=g)
    used = torch.tensor([16, 7], dtype=torch.int32)
    torch.library.opcheck(torch.ops.attnjit.attention_paged.default,
                          (qd, cache, cache, used, table, True, None, None, 0.0, 0.0))
    compiled = torch.compile(lambda a: attnjit.attention(a, cache, cache, block_table=table, cache_seqlens=used,
                                                         causal=True), fullgraph=True, backend="eager")
    torch.testing.assert_close(compiled(qd), attnjit.attention(qd, cache, cache, block_table=table,
                                                               cache_seqlens=used, causal=True))
