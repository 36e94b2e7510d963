"""User score_mod / mask_mod snippets, aux arrays and block masks from Python (CPU backend),
against a float64 numpy reference that applies the same modifications."""

import pytest

np = pytest.importorskip("numpy", reason="numpy is not installed (the reference and the CPU tests need it)")

import attnjit

DOC_MASK = "const int* doc = aux<int>(0);\nreturn doc[q_idx] == doc[kv_idx];"
BIAS = "return score + aux<float>(1)[h] - 0.125f * (q_idx - kv_idx);"


def reference(q, k, v, docs, bias):
    q, k, v = (np.asarray(x, dtype=np.float64) for x in (q, k, v))
    b, s, hq, d = q.shape
    g = hq // k.shape[2]
    i, j = np.arange(s)[:, None], np.arange(s)[None, :]
    o = np.zeros_like(q)
    for bi in range(b):
        for h in range(hq):
            x = q[bi, :, h, :] @ k[bi, :, h // g, :].T / np.sqrt(d) + bias[h] - 0.125 * (i - j)
            x = np.where(docs[:, None] == docs[None, :], x, -np.inf)
            p = np.exp(x - x.max(axis=1, keepdims=True))
            o[bi, :, h, :] = (p / p.sum(axis=1, keepdims=True)) @ v[bi, :, h // g, :]
    return o


@pytest.mark.parametrize("tile", [None, 32])
def test_document_mask_with_bias(cpu, tile):
    rng = np.random.default_rng(3)
    s = 150
    q = rng.standard_normal((2, s, 4, 64)).astype(np.float32)
    k = rng.standard_normal((2, s, 2, 64)).astype(np.float32)
    v = rng.standard_normal((2, s, 2, 64)).astype(np.float32)
    docs = np.repeat(np.arange(4, dtype=np.int32), [40, 31, 60, 19])
    bias = np.array([0.5, -0.25, 0.0, 1.0], dtype=np.float32)
    bm = attnjit.block_mask(q, k, mask_mod=DOC_MASK, aux=[docs, bias], tile=tile) if tile else None
    o = attnjit.attention(q, k, v, score_mod=BIAS, mask_mod=DOC_MASK, aux=[docs, bias], block_mask=bm)
    np.testing.assert_allclose(o, reference(q, k, v, docs, bias), atol=2e-5, rtol=0)
    if bm is not None:
        assert (bm.tile, bm.q_tiles, bm.k_tiles) == (32, 5, 5)


def test_snippet_errors_quote_the_line(cpu):
    q = np.zeros((1, 16, 1, 64), dtype=np.float32)
    with pytest.raises(ValueError, match="mask_mod line 2"):
        attnjit.attention(q, q, q, mask_mod="int x = 0;\nreturn nope == x;")


def test_bad_aux_is_named(cpu):
    q = np.zeros((1, 16, 1, 64), dtype=np.float32)
    with pytest.raises(TypeError, match=r"aux\[0\]"):
        attnjit.attention(q, q, q, mask_mod="return true;", aux=[np.zeros(4, dtype=np.int64)])
