"""attnjit.decode with user score_mod / mask_mod snippets and aux arrays (CPU backend, numpy):
against a float64 oracle of the same snippets (q_idx = the query token, kv_idx = the key), paged
and contiguous, causal with several tokens; equal to attnjit.attention per sequence; errors."""

import pytest

np = pytest.importorskip("numpy", reason="numpy is not installed (the reference and the CPU tests need it)")

import attnjit
import reference as ref

SCORE = "return score + aux<float>(1)[h] - 0.125f * q_idx;"
MASK = "const int* doc = aux<int>(0);\nreturn doc[kv_idx] != 1 && (q_idx + kv_idx) % 3 != 0;"


def oracle(q, k, v, lens, docs, table, causal):
    b, t, hq, d = q.shape
    g = hq // k.shape[2]
    o = np.zeros((b, t, hq, d))
    lse = np.full((b, hq, t), -np.inf)
    for bi in range(b):
        n = int(lens[bi])
        vis = ref.visible(t, k.shape[1], causal, None, n)
        ti, j = np.arange(t)[:, None], np.arange(k.shape[1])[None, :]
        vis = vis & (docs[None, : k.shape[1]] != 1) & ((ti + j) % 3 != 0)
        for h in range(hq):
            s = (q[bi, :, h, :].astype(np.float64) @ k[bi, :, h // g, :].T.astype(np.float64)) / np.sqrt(d)
            s = s + table[h] - 0.125 * ti
            s = np.where(vis, s, -np.inf)
            for i in range(t):
                if not vis[i].any():
                    continue
                m = s[i].max()
                p = np.exp(s[i] - m)
                o[bi, i, h] = p @ v[bi, :, h // g, :] / p.sum()
                lse[bi, h, i] = m + np.log(p.sum())
    return o, lse


@pytest.mark.parametrize("causal,t", [(False, 1), (True, 4)], ids=["none-t1", "causal-t4"])
def test_snippets_against_oracle(cpu, rng, causal, t):
    b, hq, hkv, d, cap = 3, 4, 2, 32, 64
    q = rng.standard_normal((b, t, hq, d)).astype(np.float32)
    k = rng.standard_normal((b, cap, hkv, d)).astype(np.float32)
    v = rng.standard_normal((b, cap, hkv, d)).astype(np.float32)
    lens = np.array([64, 29, 5], np.int32)
    docs = (np.arange(cap) // 10).astype(np.int32)
    table = np.array([0.5, -0.25, 0.0, 1.0], np.float32)
    o, lse = attnjit.decode(q, k, v, lens, causal=causal, return_lse=True, score_mod=SCORE, mask_mod=MASK,
                            aux=[docs, table])
    want_o, want_lse = oracle(q, k, v, lens, docs, table, causal)
    ref.assert_close(o, want_o, 2e-5, "out")
    ref.assert_close(lse, want_lse, 2e-5, "lse")
    # A paged cache (pages of 8, shuffled) gives the same: kv_idx is the logical key.
    perm = rng.permutation(b * cap // 8).astype(np.int32)
    kp = np.zeros((b * cap // 8, 8, hkv, d), np.float32)
    vp = np.zeros_like(kp)
    table_pages = perm.reshape(b, cap // 8)
    for bi in range(b):
        for pg in range(cap // 8):
            kp[table_pages[bi, pg]] = k[bi, pg * 8:(pg + 1) * 8]
            vp[table_pages[bi, pg]] = v[bi, pg * 8:(pg + 1) * 8]
    o2 = attnjit.decode(q, kp, vp, lens, block_table=table_pages, causal=causal, score_mod=SCORE, mask_mod=MASK,
                        aux=[docs, table])
    ref.assert_close(o2, want_o, 2e-5, "paged out")


def test_equals_attention_per_sequence(cpu, rng):
    q = rng.standard_normal((2, 3, 4, 32)).astype(np.float32)
    k = rng.standard_normal((2, 40, 2, 32)).astype(np.float32)
    v = rng.standard_normal((2, 40, 2, 32)).astype(np.float32)
    lens = np.array([40, 17], np.int32)
    docs = (np.arange(40) // 7).astype(np.int32)
    table = np.array([0.1, 0.2, -0.3, 0.0], np.float32)
    o = attnjit.decode(q, k, v, lens, causal=True, score_mod=SCORE, mask_mod=MASK, aux=[docs, table])
    for bi in range(2):
        n = int(lens[bi])
        want = attnjit.attention(q[bi:bi + 1], k[bi:bi + 1, :n], v[bi:bi + 1, :n], causal=True, score_mod=SCORE,
                                 mask_mod=MASK, aux=[docs, table])
        ref.assert_close(o[bi:bi + 1], want, 2e-5, f"sequence {bi}")


def test_errors_name_the_argument(cpu, rng):
    q = rng.standard_normal((1, 1, 2, 32)).astype(np.float32)
    k = rng.standard_normal((1, 16, 2, 32)).astype(np.float32)
    with pytest.raises(TypeError, match="aux"):
        attnjit.decode(q, k, k, mask_mod="return aux<int>(0)[kv_idx] == 0;", aux=[np.zeros(16, np.int64)])
    with pytest.raises(attnjit.SpecError, match="mask_mod line 1"):
        attnjit.decode(q, k, k, mask_mod="return kv_idx <;")
