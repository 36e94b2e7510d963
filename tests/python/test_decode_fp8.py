"""attnjit.decode over fp8 KV caches (e4m3, e5m2) with k_scale / v_scale, on the CPU backend:
numpy uint8 codes with kv_dtype= and torch float8 tensors, per-tensor and per-head scales,
contiguous and paged, against a float64 reference over the caches dequantised the same way
(K = code * k_scale), with poisoned outputs; and every bad combination names its argument."""

import pytest

np = pytest.importorskip("numpy", reason="numpy is not installed (the reference and the CPU tests need it)")

import attnjit
import reference as ref

FORMATS = {"e4m3": (4, 3, 7), "e5m2": (5, 2, 15)}  # exponent bits, mantissa bits, bias


def fp8_decode(codes, kind):
    """float64 values of OCP fp8 codes straight from the format: e4m3 "fn" has no infinities
    (S.1111.111 is NaN), e5m2 is IEEE-like (exponent 31 is inf / NaN)."""
    e_bits, m_bits, bias = FORMATS[kind]
    c = np.asarray(codes, np.int64)
    sign = np.where(c >> 7, -1.0, 1.0)
    e = (c >> m_bits) & ((1 << e_bits) - 1)
    m = c & ((1 << m_bits) - 1)
    frac = m / float(1 << m_bits)
    val = np.where(e == 0, frac * 2.0 ** (1 - bias), (1 + frac) * 2.0 ** (e - bias))
    if kind == "e4m3":
        val = np.where((e == 15) & (m == 7), np.nan, val)
    else:
        val = np.where(e == 31, np.where(m == 0, np.inf, np.nan), val)
    return sign * val


def finite_codes(rng, shape, kind):
    """Random codes over the whole finite range of the format (NaN / inf codes left out)."""
    all_codes = np.arange(256, dtype=np.uint8)
    ok = all_codes[np.isfinite(fp8_decode(all_codes, kind))]
    return rng.choice(ok, size=shape).astype(np.uint8)


def dequantised(codes, kind, scale):
    """codes [..., hkv, d] times a per-tensor ([1]) or per-head ([hkv]) scale, in float64."""
    s = np.asarray(scale, np.float64).reshape(-1)
    return fp8_decode(codes, kind) * (s[:, None] if s.size > 1 else s[0])


def reference_decode(q, k, v, lens, causal=False):
    outs, lses = [], []
    for b in range(q.shape[0]):
        n = int(lens[b])
        o, lse = ref.attention(q[b:b + 1], k[b:b + 1, :n], v[b:b + 1, :n], causal)
        outs.append(o)
        lses.append(lse)
    return np.concatenate(outs), np.concatenate(lses)


def case(rng, kind, b=3, t=1, hq=8, hkv=2, d=64, cap=96, lens=(96, 41, 7)):
    # Codes up to +-448 (e4m3) / +-57344 (e5m2) with small scales, so dequantised K and V have
    # unit-ish magnitudes; per-head scales differ by head.
    q = rng.standard_normal((b, t, hq, d)).astype(np.float32)
    k8, v8 = (finite_codes(rng, (b, cap, hkv, d), kind) for _ in range(2))
    big = 448.0 if kind == "e4m3" else 57344.0
    k_scale = (np.arange(1, hkv + 1, dtype=np.float32) * 0.5 / big).astype(np.float32)
    v_scale = (np.arange(hkv, 0, -1, dtype=np.float32) * 2.0 / big).astype(np.float32)
    return q, k8, v8, np.array(lens[:b], np.int32), k_scale, v_scale


def test_decoder_matches_torch_for_every_code():
    torch = pytest.importorskip("torch")
    codes = np.arange(256, dtype=np.uint8)
    for kind, dt in (("e4m3", torch.float8_e4m3fn), ("e5m2", torch.float8_e5m2)):
        want = torch.from_numpy(codes).view(dt).to(torch.float64).numpy()
        got = fp8_decode(codes, kind)
        assert np.array_equal(np.isnan(got), np.isnan(want)), kind
        fin = ~np.isnan(want)
        assert np.array_equal(got[fin], want[fin]), kind


@pytest.mark.parametrize("kind", ["e4m3", "e5m2"])
@pytest.mark.parametrize("per_head", [False, True], ids=["tensor", "head"])
def test_numpy_contiguous(cpu, rng, kind, per_head):
    q, k8, v8, lens, ks, vs = case(rng, kind, t=2)
    if not per_head:
        ks, vs = ks[:1], vs[-1:]
    out = np.full(q.shape, np.nan, np.float32)
    lse = np.full((3, 8, 2), np.nan, np.float32)
    runtime = attnjit.default_runtime("cpu")
    runtime.decode_into(q, k8, v8, lens, out, lse, causal=True, k_scale=ks, v_scale=vs, kv_dtype=kind)
    want_o, want_lse = reference_decode(q, dequantised(k8, kind, ks), dequantised(v8, kind, vs), lens, causal=True)
    ref.assert_close(out, want_o, 2e-5, "out")
    ref.assert_close(lse, want_lse, 2e-5, "lse")
    # The high-level function: floats as scales, the same numbers.
    if not per_head:
        o2 = attnjit.decode(q, k8, v8, lens, causal=True, k_scale=float(ks[0]), v_scale=float(vs[0]), kv_dtype=kind)
        ref.assert_close(o2, want_o, 2e-5, "decode() out")


def test_numpy_paged_float_and_per_head_mixed(cpu, rng):
    kind, b, hq, hkv, d, page, max_pages, num_pages = "e4m3", 3, 4, 2, 32, 16, 4, 14
    lens = np.array([64, 17, 1], np.int32)
    k_pages, v_pages = (finite_codes(rng, (num_pages, page, hkv, d), kind) for _ in range(2))
    table = rng.permutation(num_pages)[: b * max_pages].reshape(b, max_pages).astype(np.int32)
    q = rng.standard_normal((b, 1, hq, d)).astype(np.float32)
    vs = np.array([0.004, 0.001], np.float32)
    # A float k_scale next to a per-head v_scale: the float is taken per head too.
    o, lse = attnjit.decode(q, k_pages, v_pages, lens, block_table=table, k_scale=0.003, v_scale=vs, kv_dtype=kind,
                            return_lse=True)
    k = dequantised(k_pages[table].reshape(b, max_pages * page, hkv, d), kind, [np.float32(0.003)])
    v = dequantised(v_pages[table].reshape(b, max_pages * page, hkv, d), kind, vs)
    want_o, want_lse = reference_decode(q, k, v, lens)
    ref.assert_close(o, want_o, 2e-5, "out")
    ref.assert_close(lse, want_lse, 2e-5, "lse")


@pytest.mark.parametrize("kind", ["e4m3", "e5m2"])
@pytest.mark.parametrize("qdtype", ["float32", "bfloat16", "float16"])
def test_torch_float8(torch_cpu, rng, kind, qdtype):
    torch = torch_cpu
    dt = {"e4m3": torch.float8_e4m3fn, "e5m2": torch.float8_e5m2}[kind]
    q, k8, v8, lens, ks, vs = case(rng, kind)
    tq = torch.from_numpy(q).to(getattr(torch, qdtype))
    tk, tv = (torch.from_numpy(x).view(dt) for x in (k8, v8))
    o, lse = attnjit.decode(tq, tk, tv, torch.from_numpy(lens), k_scale=torch.from_numpy(ks),
                            v_scale=torch.from_numpy(vs), return_lse=True)
    assert o.dtype == tq.dtype and o.shape == tq.shape
    # The reference reads the dequantised cache through torch's own fp8 conversion.
    k = tk.to(torch.float64).numpy() * ks.astype(np.float64)[:, None]
    v = tv.to(torch.float64).numpy() * vs.astype(np.float64)[:, None]
    want_o, want_lse = reference_decode(tq.to(torch.float64).numpy(), k, v, lens)
    atol_o, atol_lse = ref.tolerance({"float32": "f32", "bfloat16": "bf16", "float16": "f16"}[qdtype])
    ref.assert_close(o.to(torch.float64).numpy(), want_o, atol_o, "out")
    ref.assert_close(lse.numpy(), want_lse, max(atol_lse, 2e-5), "lse")


def test_torch_paged_uint8_and_out(torch_cpu, rng):
    torch = torch_cpu
    q, k8, v8, lens, ks, vs = case(rng, "e5m2", b=2, lens=(96, 50))
    tq = torch.from_numpy(q)
    pages_k = torch.from_numpy(k8).reshape(2 * 6, 16, 2, 64)
    pages_v = torch.from_numpy(v8).reshape(2 * 6, 16, 2, 64)
    table = torch.arange(12, dtype=torch.int32).flip(0).reshape(2, 6)  # sequence 0 on pages 11..6
    out = torch.full_like(tq, float("nan"))
    got = attnjit.decode(tq, pages_k, pages_v, torch.from_numpy(lens), block_table=table, k_scale=float(ks[0]),
                         v_scale=float(vs[0]), kv_dtype="e5m2", out=out)
    assert got is out
    k = dequantised(pages_k[table.long()].reshape(2, 96, 2, 64).numpy(), "e5m2", ks[:1])
    v = dequantised(pages_v[table.long()].reshape(2, 96, 2, 64).numpy(), "e5m2", vs[:1])
    ref.assert_close(out.numpy(), reference_decode(q, k, v, lens)[0], 2e-5, "out")


def test_torch_compile_fp8(torch_cpu, rng):
    torch = torch_cpu
    q, k8, v8, lens, ks, vs = case(rng, "e4m3", b=2, lens=(96, 30))
    tq, tl = torch.from_numpy(q), torch.from_numpy(lens)
    tk, tv = (torch.from_numpy(x).view(torch.float8_e4m3fn) for x in (k8, v8))

    def step(q, k, v, lens):
        return attnjit.decode(q, k, v, lens, k_scale=0.002, v_scale=torch.from_numpy(vs)) * 2

    compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
    got = compiled(tq, tk, tv, tl)
    want = reference_decode(q, dequantised(k8, "e4m3", [np.float32(0.002)] * 2), dequantised(v8, "e4m3", vs), lens)[0]
    ref.assert_close(got.numpy() / 2, want, 2e-5, "compiled out")


Q = np.zeros((1, 1, 2, 32), np.float32)
C8 = np.zeros((1, 8, 1, 32), np.uint8)
CF = np.zeros((1, 8, 1, 32), np.float32)
S1 = np.ones(1, np.float32)


@pytest.mark.parametrize("args,kw,exc,match", [
    ((Q, CF, CF), dict(k_scale=1.0, v_scale=1.0), ValueError, r"k_scale: only an fp8 KV cache .*k_cache is float32"),
    ((Q, CF, CF), dict(v_scale=S1), ValueError, r"v_scale: only an fp8 KV cache"),
    ((Q, C8, C8), dict(k_scale=S1, v_scale=S1), TypeError, r"k_cache: uint8 holds fp8 codes only with kv_dtype"),
    ((Q, C8, C8), dict(kv_dtype="e4m3", v_scale=S1), ValueError, r"k_scale: required with an fp8 KV cache"),
    ((Q, C8, C8), dict(kv_dtype="e4m3", k_scale=S1), ValueError, r"v_scale: required with an fp8 KV cache"),
    ((Q, C8, C8), dict(kv_dtype="fp8", k_scale=S1, v_scale=S1), ValueError, r"kv_dtype: unknown value 'fp8'"),
    ((Q, CF, CF), dict(kv_dtype="e4m3", k_scale=S1, v_scale=S1), TypeError, r"kv_dtype: 'e4m3' does not match k_cache's dtype float32"),
    ((Q, C8, CF), dict(kv_dtype="e4m3", k_scale=S1, v_scale=S1), TypeError, r"v_cache: dtype float32 differs from k_cache's uint8"),
    ((Q, C8, C8), dict(kv_dtype="e4m3", k_scale=np.ones(1, np.float64), v_scale=S1), TypeError, r"k_scale: dtype must be float32, got float64"),
    ((Q, C8, C8), dict(kv_dtype="e4m3", k_scale=S1, v_scale=np.ones(3, np.float32)), ValueError, r"v_scale: expected shape \(\) or \(1,\) \(per tensor\) or \(1,\) \(per KV head\), got \(3,\)"),
    ((Q, C8, C8), dict(kv_dtype="e4m3", k_scale=np.ones((1, 1), np.float32), v_scale=S1), ValueError, r"k_scale: expected shape"),
    ((Q, C8, C8), dict(kv_dtype="e4m3", k_scale=[1.0], v_scale=S1), TypeError, r"k_scale: expected an array"),
    ((Q, C8, C8), dict(kv_dtype="e4m3", k_scale=True, v_scale=S1), TypeError, r"k_scale: expected a float or a float32 array, got bool"),
    ((Q, C8, C8), dict(kv_dtype="e4m3", k_scale=float("inf"), v_scale=S1), ValueError, r"k_scale: must be finite"),
    ((Q, C8, C8), dict(kv_dtype="e4m3", k_scale=np.array([np.nan], np.float32), v_scale=S1), ValueError, r"k_scale\[0\]: must be finite"),
    ((C8[:, :1].repeat(2, 2), C8, C8), dict(kv_dtype="e4m3", k_scale=S1, v_scale=S1), TypeError, r"q: dtype uint8 is not supported"),
], ids=lambda x: x if isinstance(x, str) else None)
def test_errors(cpu, args, kw, exc, match):
    with pytest.raises(exc, match=match):
        attnjit.decode(*args, **kw)


def test_errors_per_head_mismatch(cpu):
    c8 = np.zeros((1, 8, 2, 32), np.uint8)
    q = np.zeros((1, 1, 2, 32), np.float32)
    with pytest.raises(ValueError, match=r"v_scale: per tensor but k_scale is per KV head"):
        attnjit.default_runtime("cpu").decode_into(q, c8, c8, None, np.empty_like(q), None, kv_dtype="e5m2",
                                                   k_scale=np.ones(2, np.float32), v_scale=S1)


def test_torch_errors(torch_cpu):
    torch = torch_cpu
    q = torch.zeros(1, 1, 2, 32)
    k = torch.zeros(1, 8, 1, 32, dtype=torch.float8_e4m3fn)
    with pytest.raises(ValueError, match=r"k_scale: required with an fp8 KV cache \(k_cache is e4m3\)"):
        attnjit.decode(q, k, k)
    with pytest.raises(TypeError, match=r"kv_dtype: 'e5m2' does not match k_cache's dtype float8_e4m3fn"):
        attnjit.decode(q, k, k, k_scale=1.0, v_scale=1.0, kv_dtype="e5m2")
    with pytest.raises(TypeError, match=r"v_cache: dtype float8_e5m2 differs from k_cache's float8_e4m3fn"):
        attnjit.decode(q, k, k.to(torch.float8_e5m2), k_scale=1.0, v_scale=1.0)
    with pytest.raises(TypeError, match=r"q: dtype float8_e4m3fn is not supported"):
        attnjit.decode(k.repeat(1, 1, 2, 1)[:, :1], k, k, k_scale=1.0, v_scale=1.0)


def test_decode_op_opcheck(torch_cpu, rng):
    # Schema, fake (meta) implementation and AOT dispatch of attnjit::decode against the real
    # one: bf16/f32 caches contiguous and paged, float8 with per-head scales, uint8 codes.
    torch = torch_cpu
    import attnjit.torch  # noqa: F401  (registers the ops)

    op = torch.ops.attnjit.decode.default
    q, k8, v8, lens, ks, vs = case(rng, "e4m3", b=2, lens=(96, 30))
    tq, tl, tks, tvs = (torch.from_numpy(x) for x in (q, lens, ks, vs))
    tk, tv = (torch.from_numpy(x) for x in (k8, v8))
    kf = tk.view(torch.float8_e4m3fn).float() * tks[:, None]
    table = torch.arange(12, dtype=torch.int32).reshape(2, 6)
    for args in [
        (tq, kf, kf, tl, None, True, None, None, 0.0, None),
        (tq, kf.reshape(12, 16, 2, 64), kf.reshape(12, 16, 2, 64), tl, table, False, None, None, 0.0, None),
        (tq, tk.view(torch.float8_e4m3fn), tv.view(torch.float8_e4m3fn), tl, None, False, None, None, 0.0, None, 0.0,
         tks, tvs),
        (tq, tk.reshape(12, 16, 2, 64), tv.reshape(12, 16, 2, 64), tl, table, False, None, None, 0.0, 96, 0.0,
         tks[:1], tvs[:1], "e4m3"),
    ]:
        # The fake implementation for each; the schema (no mutation, no aliasing) on the first:
        # test_schema compares inputs with arithmetic torch lacks for float8 on the CPU
        # ("mul_cpu_reduced_float"); the AOT trace (seconds) on the float8 call only.
        checks = ["test_faketensor"]
        if args[1].dtype == torch.float32 and args[4] is None:
            checks.append("test_schema")
        if args[1].dtype == torch.float8_e4m3fn:
            checks.append("test_aot_dispatch_dynamic")
        torch.library.opcheck(op, args, test_utils=tuple(checks))
    o, lse = op(*args)
    assert o.dtype == torch.float32 and lse.shape == (2, 8, 1)


def test_output_over_a_scale_is_refused(cpu):
    q = np.zeros((1, 1, 2, 32), np.float32)
    c8 = np.zeros((1, 8, 1, 32), np.uint8)
    out = np.zeros((1, 1, 2, 32), np.float32)
    runtime = attnjit.default_runtime("cpu")
    with pytest.raises(ValueError, match=r"out: overlaps the memory of v_scale"):
        runtime.decode_into(q, c8, c8, None, out, None, kv_dtype="e4m3", k_scale=S1, v_scale=out.reshape(-1)[:1])
    lse = np.zeros((1, 2, 1), np.float32)
    with pytest.raises(ValueError, match=r"lse: overlaps the memory of k_scale"):
        runtime.decode_into(q, c8, c8, None, out, lse, kv_dtype="e4m3", k_scale=lse.reshape(-1)[1:], v_scale=S1)
