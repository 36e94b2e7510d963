"""attnjit.decode with ALiBi slopes and attention sinks (issue 18 through Python, issue 17's API):
per-head and per-batch slopes, sinks, both, GQA, several query tokens, paged and fp8 caches,
against the float64 reference; decode equal to prefill on the same data; numpy, torch, the
registered op (opcheck, torch.compile) and the errors that name the argument."""

import pytest

np = pytest.importorskip("numpy", reason="numpy is not installed (the reference and the CPU tests need it)")

import attnjit
import reference as ref

B, HQ, HKV, D, CAP = 3, 4, 2, 32, 80
LENS = (80, 37, 5)


def case(rng, t=1, hkv=HKV, lens=LENS):
    q = rng.standard_normal((B, t, HQ, D)).astype(np.float32) * 2
    k = rng.standard_normal((B, CAP, hkv, D)).astype(np.float32)
    v = rng.standard_normal((B, CAP, hkv, D)).astype(np.float32)
    return q, k, v, np.array(lens, np.int32)


def variants(rng, which):
    return ref.score_variants(rng, which, B, HQ)


def check(o, lse, q, k, v, lens, causal=False, window=None, **kw):
    want_o, want_lse = ref.attention(q, k, v, causal, window, seqlens=lens, **kw)
    ref.assert_close(o, want_o, 2e-5, "out")
    ref.assert_close(lse, want_lse, 2e-5, "lse")


SHAPES = {"gqa2-t1": (1, 2, {}), "gqa2-t4-causal": (4, 2, dict(causal=True)),
          "mqa-t3-sw16": (3, 1, dict(window=(16, 0))), "mha-t2": (2, 4, {})}


# Every variant on one shape, a few on the others (each new pair is a kernel to compile).
@pytest.mark.parametrize("shape,which", [("gqa2-t1", w) for w in ("alibi", "alibi_per_batch", "sinks", "all")] +
                         [("gqa2-t4-causal", "all"), ("gqa2-t4-causal", "alibi_per_batch"), ("mqa-t3-sw16", "all"),
                          ("mha-t2", "sinks"), ("mha-t2", "alibi_per_batch")])
def test_contiguous(cpu, rng, shape, which):
    t, hkv, mask = SHAPES[shape]
    q, k, v, lens = case(rng, t, hkv)
    kw = variants(rng, which)
    o, lse = attnjit.decode(q, k, v, lens, return_lse=True, **mask, **kw)
    check(o, lse, q, k, v, lens, **mask, **kw)
    plain = ref.attention(q, k, v, seqlens=lens, **mask)[0]
    assert np.abs(o - plain).max() > 0.05, "the variant must change the result"


@pytest.mark.parametrize("which", ["alibi_per_batch", "all"])
def test_paged(cpu, rng, which):
    page, max_pages, num_pages = 16, 5, 20
    q = rng.standard_normal((B, 2, HQ, D)).astype(np.float32) * 2
    k_pages = rng.standard_normal((num_pages, page, HKV, D)).astype(np.float32)
    v_pages = rng.standard_normal((num_pages, page, HKV, D)).astype(np.float32)
    table = rng.permutation(num_pages)[: B * max_pages].reshape(B, max_pages).astype(np.int32)
    lens = np.array([70, 16, 33], np.int32)
    kw = variants(rng, which)
    o, lse = attnjit.decode(q, k_pages, v_pages, lens, block_table=table, causal=True, return_lse=True, **kw)
    # The same cache laid out contiguously, page by page.
    k = k_pages[table].reshape(B, max_pages * page, HKV, D)
    v = v_pages[table].reshape(B, max_pages * page, HKV, D)
    check(o, lse, q, k, v, lens, causal=True, **kw)


def test_empty_sequence_gives_the_sink(cpu, rng):
    # A sequence with no keys: every row fully masked, so O = 0 and LSE = the sink (-inf without).
    q, k, v, _ = case(rng)
    lens = np.array([80, 0, 5], np.int32)
    kw = variants(rng, "all")
    o, lse = attnjit.decode(q, k, v, lens, return_lse=True, **kw)
    check(o, lse, q, k, v, lens, **kw)
    assert (o[1] == 0).all() and np.allclose(lse[1, :, 0], kw["sinks"])


@pytest.mark.parametrize("t", [1, 4])
def test_decode_equals_prefill(cpu, rng, t):
    # A full cache (no lengths) is prefill with seqlen_k = capacity: the same bottom-right
    # alignment, so the same slopes and sinks give the same numbers.
    q, k, v, _ = case(rng, t)
    kw = variants(rng, "alibi_per_batch")
    kw["sinks"] = variants(rng, "sinks")["sinks"]
    o_d, lse_d = attnjit.decode(q, k, v, causal=True, return_lse=True, **kw)
    o_p, lse_p = attnjit.attention(q, k, v, causal=True, return_lse=True, **kw)
    ref.assert_close(o_d, np.asarray(o_p, np.float64), 2e-6, "decode vs prefill out")
    ref.assert_close(lse_d, np.asarray(lse_p, np.float64), 2e-6, "decode vs prefill lse")
    check(o_d, lse_d, q, k, v, np.full(B, CAP, np.int32), causal=True, **kw)


def test_torch_op_opcheck_and_compile(torch_cpu, rng):
    torch = torch_cpu
    import attnjit.torch  # noqa: F401  (registers the ops)

    q, k, v, lens = (torch.from_numpy(x) for x in case(rng, 2))
    kw = {name: torch.from_numpy(x) for name, x in variants(rng, "all").items()}
    o, lse = attnjit.decode(q, k, v, lens, causal=True, return_lse=True, **kw)
    check(o.numpy(), lse.numpy(), q.numpy(), k.numpy(), v.numpy(), lens.numpy(), causal=True,
          **{n: x.numpy() for n, x in kw.items()})
    args = (q, k, v, lens, None, True, None, None, 0.0, None, 0.0, None, None, None, kw["alibi_slopes"], kw["sinks"])
    torch.library.opcheck(torch.ops.attnjit.decode.default, args)
    # Keywords with the schema's defaults: the older call shape still works.
    o2, _ = torch.ops.attnjit.decode(q, k, v, lens, None, True, None, None, 0.0, None, sinks=kw["sinks"],
                                     alibi_slopes=kw["alibi_slopes"])
    torch.testing.assert_close(o2, o)

    def f(q, k, v, lens):
        return attnjit.decode(q, k, v, lens, causal=True, **kw)

    torch.testing.assert_close(torch.compile(f, fullgraph=True, backend="eager")(q, k, v, lens), o)
    # Errors from inside the op keep their type and name the argument.
    with pytest.raises(TypeError, match=r"^sinks: dtype must be float32, got float64"):
        attnjit.decode(q, k, v, lens, sinks=kw["sinks"].double())
    with pytest.raises(ValueError, match=r"^alibi_slopes: batch is 2 but q has 3"):
        attnjit.decode(q, k, v, lens, alibi_slopes=kw["alibi_slopes"].expand(2, HQ).contiguous())


def test_torch_paged_fp8(torch_cpu, rng):
    # fp8 (e4m3) pages with per-head scales, slopes per batch and sinks, through the op.
    torch = torch_cpu
    page, max_pages, num_pages = 16, 5, 16
    g = torch.Generator().manual_seed(7)
    kp, vp = ((torch.randn(num_pages, page, HKV, D, generator=g) * 8).to(torch.float8_e4m3fn) for _ in range(2))
    ks, vs = torch.tensor([0.05, 0.2]), torch.tensor([0.1, 0.03])
    table = torch.randperm(num_pages, generator=g)[: B * max_pages].reshape(B, max_pages).to(torch.int32)
    lens = torch.tensor([80, 1, 41], dtype=torch.int32)
    q = torch.randn(B, 1, HQ, D, generator=g)
    kw = {name: torch.from_numpy(x) for name, x in variants(rng, "alibi_per_batch").items()}
    kw["sinks"] = torch.from_numpy(variants(rng, "sinks")["sinks"])
    o, lse = attnjit.decode(q, kp, vp, lens, block_table=table, k_scale=ks, v_scale=vs, return_lse=True, **kw)
    # Dequantised the same way (K = code * scale per KV head), laid out contiguously.
    k = (kp.float() * ks[None, None, :, None])[table.long()].reshape(B, max_pages * page, HKV, D)
    v = (vp.float() * vs[None, None, :, None])[table.long()].reshape(B, max_pages * page, HKV, D)
    check(o.numpy(), lse.numpy(), q.numpy(), k.numpy(), v.numpy(), lens.numpy(),
          **{n: x.numpy() for n, x in kw.items()})


Q1 = np.zeros((1, 1, 2, 32), np.float32)
KV = np.zeros((1, 16, 1, 32), np.float32)


@pytest.mark.parametrize("kw,exc,match", [
    (dict(alibi_slopes=np.zeros(2, np.float64)), TypeError, r"^alibi_slopes: dtype must be float32, got float64"),
    (dict(alibi_slopes=np.zeros(3, np.float32)), ValueError, r"^alibi_slopes: heads_q is 3 but q has 2"),
    (dict(alibi_slopes=np.zeros((2, 2), np.float32)), ValueError, r"^alibi_slopes: batch is 2 but q has 1"),
    (dict(alibi_slopes=np.zeros((1, 1, 2), np.float32)), ValueError, r"^alibi_slopes: expected shape \[heads_q\]"),
    (dict(alibi_slopes=np.zeros(4, np.float32)[::2]), ValueError, r"^alibi_slopes: the last dimension must be contiguous"),
    (dict(alibi_slopes=np.array([0.5, np.inf], np.float32)), ValueError, r"alibi_slopes\[0, 1\]: must be finite"),
    (dict(alibi_slopes=[0.5, 0.25]), TypeError, r"^alibi_slopes: expected an array"),
    (dict(sinks=np.zeros(2, np.float16)), TypeError, r"^sinks: dtype must be float32, got float16"),
    (dict(sinks=np.zeros(1, np.float32)), ValueError, r"^sinks: heads_q is 1 but q has 2"),
    (dict(sinks=np.zeros((1, 2), np.float32)), ValueError, r"^sinks: expected 1 dimensions? \[heads_q\]"),
    (dict(sinks=np.array([0.0, np.nan], np.float32)), ValueError, r"sinks\[1\]: must be a number"),
])
def test_bad_input(cpu, kw, exc, match):
    with pytest.raises(exc, match=match):
        attnjit.decode(Q1, KV, KV, **kw)


def test_output_over_a_slope_is_refused(cpu):
    # The kernel writes out while other heads still read the slopes: overlapping buffers refused.
    buf = np.zeros(64, np.float32)
    out = buf.reshape(1, 1, 2, 32)
    with pytest.raises(ValueError, match=r"out.*alibi_slopes|alibi_slopes.*out"):
        attnjit.decode(Q1, KV, KV, out=out, alibi_slopes=buf[:2])


@pytest.mark.parametrize("kv", ["bfloat16", "float8_e4m3fn"])
def test_cuda_paged(cuda, kv):
    # bf16 queries against a paged bf16 / e4m3 cache with per-batch slopes and sinks, two new
    # tokens, causal, on the current stream; compile traces the call.
    torch = cuda
    b, t, hq, hkv, d, page, pages = 4, 2, 16, 2, 128, 16, 64
    gen = torch.Generator(device="cuda").manual_seed(3)
    lens = torch.tensor([100, 2, 64, 250], dtype=torch.int32, device="cuda")
    kp, vp = (torch.randn(pages, page, hkv, d, device="cuda", generator=gen).to(getattr(torch, kv)) for _ in range(2))
    table = torch.randperm(pages, device="cuda", generator=gen)[: b * 16].reshape(b, 16).to(torch.int32)
    q = torch.randn(b, t, hq, d, device="cuda", dtype=torch.bfloat16, generator=gen)
    slopes = torch.rand(b, hq, device="cuda", generator=gen) * 0.5
    sinks = torch.randn(hq, device="cuda", generator=gen) * 2
    fp8 = {} if kv == "bfloat16" else dict(k_scale=torch.tensor([0.5, 1.5], device="cuda"),
                                           v_scale=torch.tensor([1.0, 0.25], device="cuda"))
    s = torch.cuda.Stream()
    with torch.cuda.stream(s):
        o, lse = attnjit.decode(q, kp, vp, lens, block_table=table, causal=True, max_seqlen_k=256,
                                alibi_slopes=slopes, sinks=sinks, return_lse=True, **fp8)
    s.synchronize()
    k, v = (x.double()[table.long()].reshape(b, 16 * page, hkv, d) for x in (kp, vp))  # fp8 indexing: not everywhere
    if fp8:
        k, v = k * fp8["k_scale"].double()[:, None], v * fp8["v_scale"].double()[:, None]
    as64 = lambda x: x.double().cpu().numpy()  # noqa: E731
    want_o, want_lse = ref.attention(as64(q), as64(k), as64(v), causal=True, seqlens=lens.cpu().numpy(),
                                     alibi_slopes=as64(slopes), sinks=as64(sinks))
    ref.assert_close(as64(o), want_o, 2e-2, "out")
    ref.assert_close(as64(lse), want_lse, 2e-3, "lse")
    f = torch.compile(lambda *a: attnjit.decode(*a, block_table=table, causal=True, max_seqlen_k=256,
                                                alibi_slopes=slopes, sinks=sinks, **fp8), fullgraph=True)
    torch.testing.assert_close(f(q, kp, vp, lens), o)


def test_cuda_variant_on_the_wrong_device(cuda):
    torch = cuda
    q = torch.zeros(1, 1, 2, 64, device="cuda", dtype=torch.bfloat16)
    kv = torch.zeros(1, 16, 1, 64, device="cuda", dtype=torch.bfloat16)
    with pytest.raises(ValueError, match=r"^sinks: is on cpu but the runtime runs on cuda:0"):
        attnjit.decode(q, kv, kv, sinks=torch.zeros(2))
    with pytest.raises(ValueError, match=r"^alibi_slopes: is on cpu but the runtime runs on cuda:0"):
        attnjit.decode(q, kv, kv, alibi_slopes=torch.zeros(2))
