"""attnjit.decode: contiguous and paged KV caches, ragged lengths, numpy and torch."""

import pytest

np = pytest.importorskip("numpy", reason="numpy is not installed (the reference and the CPU tests need it)")

import attnjit
import reference as ref


def contiguous_case(rng, b=3, t=1, hq=4, hkv=2, d=32, cap=80, lens=(80, 37, 5)):
    q = rng.standard_normal((b, t, hq, d)).astype(np.float32)
    k = rng.standard_normal((b, cap, hkv, d)).astype(np.float32)
    v = rng.standard_normal((b, cap, hkv, d)).astype(np.float32)
    return q, k, v, np.array(lens[:b], np.int32)


def reference_decode(q, k, v, lens, causal=False, window=None):
    outs, lses = [], []
    for b in range(q.shape[0]):
        n = int(lens[b])
        o, lse = ref.attention(q[b:b + 1], k[b:b + 1, :n], v[b:b + 1, :n], causal, window)
        outs.append(o)
        lses.append(lse)
    return np.concatenate(outs), np.concatenate(lses)


@pytest.mark.parametrize("kw", [dict(), dict(window=(16, 0))], ids=["none", "sw16-0"])
def test_contiguous(cpu, rng, kw):
    q, k, v, lens = contiguous_case(rng)
    o, lse = attnjit.decode(q, k, v, lens, return_lse=True, **kw)
    want_o, want_lse = reference_decode(q, k, v, lens, window=kw.get("window"))
    ref.assert_close(o, want_o, 2e-5, "out")
    ref.assert_close(lse, want_lse, 2e-5, "lse")


def test_multiple_query_tokens_causal(cpu, rng):
    q, k, v, lens = contiguous_case(rng, t=4, lens=(80, 37, 9))
    o = attnjit.decode(q, k, v, lens, causal=True)
    ref.assert_close(o, reference_decode(q, k, v, lens, causal=True)[0], 2e-5, "out")


def test_paged(cpu, rng):
    b, hq, hkv, d, page, max_pages = 3, 4, 1, 32, 16, 5
    lens = np.array([70, 16, 33], np.int32)
    num_pages = 20
    k_pages = rng.standard_normal((num_pages, page, hkv, d)).astype(np.float32)
    v_pages = rng.standard_normal((num_pages, page, hkv, d)).astype(np.float32)
    table = rng.permutation(num_pages)[: b * max_pages].reshape(b, max_pages).astype(np.int32)
    q = rng.standard_normal((b, 1, hq, d)).astype(np.float32)
    o = attnjit.decode(q, k_pages, v_pages, lens, block_table=table)
    # The same cache laid out contiguously, page by page.
    k = k_pages[table].reshape(b, max_pages * page, hkv, d)
    v = v_pages[table].reshape(b, max_pages * page, hkv, d)
    ref.assert_close(o, reference_decode(q, k, v, lens)[0], 2e-5, "out")


def test_full_cache_without_lengths(cpu, rng):
    q, k, v, _ = contiguous_case(rng, cap=48)
    o = attnjit.decode(q, k, v)
    ref.assert_close(o, reference_decode(q, k, v, [48, 48, 48])[0], 2e-5, "out")


def test_torch_contiguous_and_paged(torch_cpu, rng):
    torch = torch_cpu
    q, k, v, lens = contiguous_case(rng)
    tq, tk, tv, tl = (torch.from_numpy(x) for x in (q, k, v, lens))
    o, lse = attnjit.decode(tq, tk, tv, tl, return_lse=True)
    want_o, want_lse = reference_decode(q, k, v, lens)
    ref.assert_close(o.numpy(), want_o, 2e-5, "out")
    ref.assert_close(lse.numpy(), want_lse, 2e-5, "lse")
    # Paged through the registered op: pages of 16 rows of the same cache.
    pages_k = tk[:, :80].reshape(3 * 5, 16, 2, 32)
    pages_v = tv[:, :80].reshape(3 * 5, 16, 2, 32)
    table = torch.arange(15, dtype=torch.int32).reshape(3, 5)
    o2 = attnjit.decode(tq, pages_k, pages_v, tl, block_table=table)
    ref.assert_close(o2.numpy(), want_o, 2e-5, "paged out")
