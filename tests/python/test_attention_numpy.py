"""attnjit.attention on numpy arrays (CPU backend) against the float64 reference."""

import pytest

np = pytest.importorskip("numpy", reason="numpy is not installed (the reference and the CPU tests need it)")

import attnjit
import reference as ref

MASKS = [
    dict(),
    dict(causal=True),
    dict(window=(8, 0)),
    dict(window=(5, 3)),
    dict(causal=True, window=(8, 0)),
]


def make(rng, b, s, h, d, dtype=np.float32):
    return rng.standard_normal((b, s, h, d)).astype(dtype)


def expected_mask(kw):
    return kw.get("causal", False), kw.get("window")


@pytest.mark.parametrize("kw", MASKS, ids=lambda kw: "-".join(f"{k}{v}" for k, v in kw.items()) or "none")
@pytest.mark.parametrize("sq,sk", [(40, 40), (24, 56), (56, 24)])
def test_masks_against_reference(cpu, rng, kw, sq, sk):
    # sq > sk leaves the first causal rows with no visible key: they must be 0, never NaN.
    q, k, v = make(rng, 2, sq, 2, 32), make(rng, 2, sk, 2, 32), make(rng, 2, sk, 2, 32)
    o, lse = attnjit.attention(q, k, v, return_lse=True, **kw)
    causal, window = expected_mask(kw)
    want_o, want_lse = ref.attention(q, k, v, causal=causal, window=window)
    atol_o, atol_lse = ref.tolerance("f32")
    ref.assert_close(o, want_o, atol_o, "out")
    ref.assert_close(lse, want_lse, atol_lse, "lse")
    assert o.dtype == np.float32 and lse.dtype == np.float32


@pytest.mark.parametrize("hq,hkv", [(4, 1), (4, 2), (6, 3)])
def test_gqa(cpu, rng, hq, hkv):
    q, k, v = make(rng, 1, 33, hq, 32), make(rng, 1, 33, hkv, 32), make(rng, 1, 33, hkv, 32)
    o = attnjit.attention(q, k, v, causal=True)
    ref.assert_close(o, ref.attention(q, k, v, causal=True)[0], ref.tolerance("f32")[0], "out")


def test_bhsd_layout(cpu, rng):
    q, k, v = make(rng, 2, 20, 3, 32), make(rng, 2, 30, 3, 32), make(rng, 2, 30, 3, 32)
    qt, kt, vt = (np.ascontiguousarray(x.transpose(0, 2, 1, 3)) for x in (q, k, v))
    o, lse = attnjit.attention(qt, kt, vt, causal=True, layout="bhsd", return_lse=True)
    want_o, want_lse = ref.attention(q, k, v, causal=True)
    assert o.shape == qt.shape
    ref.assert_close(o.transpose(0, 2, 1, 3), want_o, ref.tolerance("f32")[0], "out")
    ref.assert_close(lse, want_lse, ref.tolerance("f32")[1], "lse")


def test_non_contiguous_inputs_and_output(cpu, rng):
    # Every tensor a view: q every other position of a padded head range, k a head_dim slice of
    # a wider buffer, v stored head-major (BHSD memory seen as BSHD), out every other head.
    q = make(rng, 2, 64, 5, 32)[:, ::2, 1:4, :]
    k = make(rng, 2, 48, 3, 64)[..., 16:48]
    v = np.ascontiguousarray(make(rng, 2, 48, 3, 32).transpose(0, 2, 1, 3)).transpose(0, 2, 1, 3)
    out_buf = np.full((2, 32, 6, 32), np.nan, np.float32)
    out = out_buf[:, :, ::2, :]
    assert not any(x.flags.c_contiguous for x in (q, k, v, out))
    r = attnjit.attention(q, k, v, window=(6, 2), out=out)
    assert r is out
    ref.assert_close(out, ref.attention(q, k, v, window=(6, 2))[0], ref.tolerance("f32")[0], "out")
    assert np.isnan(out_buf[:, :, 1::2, :]).all(), "wrote outside the out view"


def test_broadcast_kv_stride_zero(cpu, rng):
    # A stride-0 input (one K/V row for every batch entry) is read as broadcast.
    q = make(rng, 3, 16, 2, 32)
    k1, v1 = make(rng, 1, 24, 2, 32), make(rng, 1, 24, 2, 32)
    k, v = np.broadcast_to(k1, (3, 24, 2, 32)), np.broadcast_to(v1, (3, 24, 2, 32))
    o = attnjit.attention(q, k, v)
    ref.assert_close(o, ref.attention(q, k, v)[0], ref.tolerance("f32")[0], "out")


def test_strided_views_without_copies(cpu, rng):
    # K and V as views into one packed buffer [b, s, 2, h, d] (no copy on the Python side).
    q = make(rng, 1, 32, 2, 64)
    kv = rng.standard_normal((1, 40, 2, 2, 64)).astype(np.float32)
    k, v = kv[:, :, 0], kv[:, :, 1]
    assert not k.flags.c_contiguous
    o = attnjit.attention(q, k, v, causal=True)
    ref.assert_close(o, ref.attention(q, k, v, causal=True)[0], ref.tolerance("f32")[0], "out")


def test_float16(cpu, rng):
    q, k, v = (make(rng, 1, 32, 2, 32, np.float16) for _ in range(3))
    o = attnjit.attention(q, k, v, causal=True)
    assert o.dtype == np.float16
    ref.assert_close(o, ref.attention(q, k, v, causal=True)[0], ref.tolerance("f16")[0], "out")


def test_scale(cpu, rng):
    q, k, v = make(rng, 1, 16, 1, 32), make(rng, 1, 16, 1, 32), make(rng, 1, 16, 1, 32)
    o = attnjit.attention(q, k, v, scale=0.05)
    ref.assert_close(o, ref.attention(q, k, v, scale=0.05)[0], ref.tolerance("f32")[0], "out")


def test_read_only_inputs(cpu, rng):
    q = make(rng, 1, 16, 1, 32)
    q.flags.writeable = False
    o = attnjit.attention(q, q, q)
    ref.assert_close(o, ref.attention(q, q, q)[0], ref.tolerance("f32")[0], "out")


def test_explicit_runtime(rng):
    try:
        rt = attnjit.Runtime("cpu")
    except attnjit.BackendError as e:
        pytest.skip(f"no cpu backend: {e}")
    q = make(rng, 1, 16, 1, 32)
    o = rt.attention(q, q, q, causal=True)
    ref.assert_close(o, ref.attention(q, q, q, causal=True)[0], ref.tolerance("f32")[0], "out")
    assert rt.backend == "cpu" and "cpu" in repr(rt)
    config, source = rt.plan("prefill_f32_hd32_causal_g1_q16_k16")
    assert source == "default" and config


@pytest.mark.parametrize("kw", [dict(), dict(causal=True), dict(window=(8, 0))], ids=["none", "causal", "window"])
@pytest.mark.parametrize("variant", ["softcap", "alibi", "alibi_per_batch", "sinks", "all"])
def test_score_variants_against_reference(cpu, rng, kw, variant):
    # sq > sk: causal / window leave the first rows with no key (O = 0; LSE -inf, or the sink).
    b, sq, sk, hq, hkv = 2, 40, 24, 4, 2
    q, k, v = make(rng, b, sq, hq, 32), make(rng, b, sk, hkv, 32), make(rng, b, sk, hkv, 32)
    extra = {}
    if variant in ("softcap", "all"):
        q = q * 4  # scores large enough for the cap to bend
        extra["softcap"] = 5.0
    extra.update(ref.score_variants(rng, variant, b, hq))
    o, lse = attnjit.attention(q, k, v, return_lse=True, **kw, **extra)
    causal, window = expected_mask(kw)
    want_o, want_lse = ref.attention(q, k, v, causal=causal, window=window, **extra)
    plain_o, _ = ref.attention(q, k, v, causal=causal, window=window)
    assert np.abs(want_o - plain_o).max() > 0.05, "the variant must change the result"
    atol_o, atol_lse = ref.tolerance("f32")
    ref.assert_close(o, want_o, atol_o, "out")
    ref.assert_close(lse, want_lse, atol_lse, "lse")
