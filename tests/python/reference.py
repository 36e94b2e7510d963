"""Float64 attention straight from the definition, in numpy: the tests' oracle.

Same semantics as the library's reference (runtime/reference_attention.h): bottom-right aligned
masks (query i sits at key position i + sk - sq), sliding window [p - left, p + right], GQA by
head groups, fully masked rows give O = 0 and LSE = -inf. Inputs are [b, s, h, d] (BSHD).
"""

import numpy as np


def visible(sq, sk, causal=False, window=None, seqlen=None):
    """[sq, sk] bool mask; `seqlen` (decode) = this sequence's real key count."""
    n = sk if seqlen is None else seqlen
    i = np.arange(sq)[:, None] + n - sq
    j = np.arange(sk)[None, :]
    m = np.broadcast_to(j < n, (sq, sk)).copy()
    if window is not None:
        left, right = window
        m &= (j >= i - left) & (j <= i + right)
    elif causal:
        m &= j <= i
    return m


def attention(q, k, v, causal=False, window=None, scale=None, seqlens=None, softcap=None, alibi_slopes=None,
              sinks=None):
    """O [b, sq, hq, d] and LSE [b, hq, sq] in float64. softcap: s -> c tanh(s / c);
    alibi_slopes [hq] or [b, hq]: bias -slope * |i + sk - sq - j|; sinks [hq]: one extra logit per
    head in the denominator (a fully masked row then has O = 0, LSE = sink)."""
    q, k, v = (np.asarray(x, dtype=np.float64) for x in (q, k, v))
    b, sq, hq, d = q.shape
    sk, hkv = k.shape[1], k.shape[2]
    g = hq // hkv
    scale = 1.0 / np.sqrt(d) if scale is None else scale
    o = np.zeros_like(q)
    lse = np.full((b, hq, sq), -np.inf)
    for bi in range(b):
        mask = visible(sq, sk, causal, window, None if seqlens is None else int(seqlens[bi]))
        for h in range(hq):
            s = scale * q[bi, :, h, :] @ k[bi, :, h // g, :].T
            if softcap is not None:
                s = softcap * np.tanh(s / softcap)
            if alibi_slopes is not None:
                slope = np.asarray(alibi_slopes, np.float64).reshape(-1, hq)[bi if np.ndim(alibi_slopes) == 2 else 0, h]
                n = sk if seqlens is None else int(seqlens[bi])
                s = s - slope * np.abs(np.arange(sq)[:, None] + n - sq - np.arange(sk)[None, :])
            s = np.where(mask, s, -np.inf)
            mx = s.max(axis=1, keepdims=True)
            rows = np.isfinite(mx[:, 0])
            p = np.where(mask, np.exp(s - np.where(np.isfinite(mx), mx, 0.0)), 0.0)
            den = p.sum(axis=1)
            if sinks is not None:  # straight from the definition: e^(sink - m) joins the sum
                sink = float(sinks[h])
                base = np.where(rows, mx[:, 0], sink)
                den = den + np.exp(sink - base)
                rows = np.ones(sq, bool)
                o[bi, :, h, :] = (p @ v[bi, :, h // g, :]) / den[:, None]
                lse[bi, h, :] = base + np.log(den)
                continue
            o[bi, rows, h, :] = (p[rows] @ v[bi, :, h // g, :]) / den[rows, None]
            lse[bi, h, rows] = mx[rows, 0] + np.log(den[rows])
    return o, lse


def score_variants(rng, which, batch, heads_q):
    """Random keyword arguments of a score variant ("alibi", "alibi_per_batch", "sinks", "all" =
    alibi and sinks; anything else: none): slopes in ALiBi's range, sinks around the scores'."""
    kw = {}
    if which in ("alibi", "all"):
        kw["alibi_slopes"] = rng.uniform(1 / 256, 0.5, heads_q).astype(np.float32)
    if which == "alibi_per_batch":
        kw["alibi_slopes"] = rng.uniform(1 / 256, 0.5, (batch, heads_q)).astype(np.float32)
    if which in ("sinks", "all"):
        kw["sinks"] = (2 * rng.standard_normal(heads_q)).astype(np.float32)
    return kw


def tolerance(dtype_name):
    """(atol on O, atol on LSE) for inputs already rounded to the kernel's dtype: fp32
    accumulation leaves ~1e-6 for f32 storage; f16 / bf16 outputs are rounded once more."""
    return {"f32": (2e-5, 2e-5), "f16": (2e-3, 1e-4), "bf16": (1.6e-2, 1e-4)}[dtype_name]


def assert_close(got, want, atol, what):
    got = np.asarray(got, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    assert not np.isnan(got).any(), f"{what}: NaN in output"
    fin = np.isfinite(want)
    assert (np.isfinite(got) == fin).all(), f"{what}: infinities differ from the reference"
    err = np.abs(got[fin] - want[fin]).max() if fin.any() else 0.0
    assert err <= atol, f"{what}: max abs error {err:.3g} > {atol:.3g}"
