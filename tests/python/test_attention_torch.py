"""attnjit.attention on CPU torch tensors: the float64 reference, F.scaled_dot_product_attention
where its semantics match ours, and torch.compile(fullgraph=True) over the registered op."""

import pytest

np = pytest.importorskip("numpy", reason="numpy is not installed (the reference and the CPU tests need it)")

import attnjit
import reference as ref


def randn(torch, *shape, dtype=None):
    g = torch.Generator().manual_seed(hash(shape) & 0xFFFF)
    return torch.randn(*shape, generator=g, dtype=dtype or torch.float32)


def as64(t):
    return t.detach().to("cpu").double().numpy()


@pytest.mark.parametrize("kw", [dict(), dict(causal=True), dict(window=(8, 0)), dict(window=(5, 3))],
                         ids=["none", "causal", "sw8-0", "sw5-3"])
@pytest.mark.parametrize("dtype", ["f32", "bf16"])
def test_against_reference(torch_cpu, kw, dtype):
    torch = torch_cpu
    td = {"f32": torch.float32, "bf16": torch.bfloat16}[dtype]
    q, k, v = randn(torch, 2, 24, 4, 32, dtype=td), randn(torch, 2, 40, 2, 32, dtype=td), randn(torch, 2, 40, 2, 32, dtype=td)
    o, lse = attnjit.attention(q, k, v, return_lse=True, **kw)
    assert o.dtype == td and o.shape == q.shape and lse.dtype == torch.float32
    want_o, want_lse = ref.attention(as64(q), as64(k), as64(v), kw.get("causal", False), kw.get("window"))
    atol_o, atol_lse = ref.tolerance(dtype)
    ref.assert_close(as64(o), want_o, atol_o, "out")
    ref.assert_close(as64(lse), want_lse, atol_lse, "lse")


def test_bhsd_non_contiguous(torch_cpu):
    torch = torch_cpu
    q = randn(torch, 2, 4, 48, 32)[:, :, ::2]            # [b, h, s, d], every other position
    k = randn(torch, 2, 40, 2, 32).transpose(1, 2)        # BSHD memory seen as BHSD
    v = randn(torch, 2, 2, 40, 64)[..., :32]
    o = attnjit.attention(q, k, v, causal=True, layout="bhsd")
    want = ref.attention(as64(q.transpose(1, 2)), as64(k.transpose(1, 2)), as64(v.transpose(1, 2)), causal=True)[0]
    ref.assert_close(as64(o.transpose(1, 2)), want, ref.tolerance("f32")[0], "out")


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("hq,hkv", [(4, 4), (4, 2)])
def test_against_torch_sdpa_equal_lengths(torch_cpu, causal, hq, hkv):
    # Equal lengths: SDPA's top-left is_causal is our bottom-right; GQA needs enable_gqa.
    torch = torch_cpu
    F = torch.nn.functional
    q, k, v = randn(torch, 2, hq, 48, 64), randn(torch, 2, hkv, 48, 64), randn(torch, 2, hkv, 48, 64)
    got = attnjit.attention(q, k, v, causal=causal, layout="bhsd")
    want = F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=hq != hkv)
    torch.testing.assert_close(got, want, atol=2e-5, rtol=1e-4)


def test_against_torch_sdpa_bottom_right_mask(torch_cpu):
    # Different lengths: an explicit bottom-right boolean mask (SDPA's is_causal would be top-left).
    torch = torch_cpu
    F = torch.nn.functional
    sq, sk = 24, 56
    q, k, v = randn(torch, 1, 2, sq, 32), randn(torch, 1, 2, sk, 32), randn(torch, 1, 2, sk, 32)
    mask = torch.from_numpy(ref.visible(sq, sk, causal=True))
    got = attnjit.attention(q, k, v, causal=True, layout="bhsd")
    want = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(got, want, atol=2e-5, rtol=1e-4)


def test_out_and_return_lse(torch_cpu):
    torch = torch_cpu
    q = randn(torch, 1, 16, 2, 32)
    out = torch.full_like(q, float("nan"))
    o, lse = attnjit.attention(q, q, q, out=out, return_lse=True)
    assert o is out and not torch.isnan(out).any()
    want_o, want_lse = ref.attention(as64(q), as64(q), as64(q))
    ref.assert_close(as64(out), want_o, ref.tolerance("f32")[0], "out")
    ref.assert_close(as64(lse), want_lse, ref.tolerance("f32")[1], "lse")


def test_registered_op_and_fake(torch_cpu):
    torch = torch_cpu
    import attnjit.torch  # noqa: F401  (registers the ops)

    q = randn(torch, 1, 16, 2, 32)
    o, lse = torch.ops.attnjit.attention(q, q, q, True, None, None, 0.0, "bshd")
    ref.assert_close(as64(o), ref.attention(as64(q), as64(q), as64(q), causal=True)[0], 2e-5, "out")
    assert lse.shape == (1, 2, 16)
    # The fake implementation: shapes only, no kernel.
    torch.library.opcheck(torch.ops.attnjit.attention.default, (q, q, q, True, None, None, 0.0, "bshd"))


@pytest.mark.parametrize("op", ["attention", "decode"])
def test_op_outputs_are_contiguous_like_the_fake(torch_cpu, op):
    # The ops allocate their outputs with empty_like (the cheapest allocation): they must still be
    # contiguous whatever q's strides, as the fake implementations say (torch.compile plans with them).
    torch = torch_cpu
    import attnjit.torch  # noqa: F401

    q = randn(torch, 1, 2, 4, 32).transpose(1, 2)  # bshd [1, 4, 2, 32] over bhsd memory: dense, permuted
    kv = randn(torch, 1, 8, 2, 32)
    if op == "attention":
        args = (q, kv, kv, False, None, None, 0.0, "bshd")
        want = ref.attention(as64(q), as64(kv), as64(kv))[0]
    else:
        args = (q, kv, kv, None, None, False, None, None, 0.0, None)
        want = ref.attention(as64(q), as64(kv), as64(kv), causal=False)[0]
    o, lse = getattr(torch.ops.attnjit, op)(*args)
    assert o.is_contiguous() and lse.is_contiguous()
    ref.assert_close(as64(o), want, 2e-5, "out")
    torch.library.opcheck(getattr(torch.ops.attnjit, op).default, args)


def test_torch_compile_fullgraph(torch_cpu):
    torch = torch_cpu

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = torch.nn.Linear(64, 64)

        def forward(self, x):
            b, s, _ = x.shape
            qkv = self.proj(x).view(b, s, 2, 32)
            o = attnjit.attention(qkv, qkv, qkv, causal=True)
            return o.reshape(b, s, 64).relu()

    torch.manual_seed(0)
    m = Block()
    x = torch.randn(2, 32, 64)
    eager = m(x)
    compiled = torch.compile(m, fullgraph=True, backend="eager")
    torch.testing.assert_close(compiled(x), eager)
    assert torch._dynamo.utils.counters["graph_break"] == {} or sum(torch._dynamo.utils.counters["graph_break"].values()) == 0


def test_sdpa_override(torch_cpu):
    torch = torch_cpu
    import attnjit.torch as at

    F = torch.nn.functional
    q, k, v = randn(torch, 1, 4, 32, 64), randn(torch, 1, 2, 32, 64), randn(torch, 1, 2, 32, 64)
    want = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    calls = []
    real = at.attention_op
    at.attention_op = lambda *a: calls.append(a) or real(*a)
    at.enable_sdpa_override()
    try:
        got = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        mask = torch.ones(32, 32, dtype=torch.bool).tril()
        fallback = F.scaled_dot_product_attention(q, k[:, :1].expand(-1, 4, -1, -1), v[:, :1].expand(-1, 4, -1, -1),
                                                  attn_mask=mask)
    finally:
        at.disable_sdpa_override()
        at.attention_op = real
    assert len(calls) == 1, "the matching call goes to attnjit, the masked one to PyTorch"
    torch.testing.assert_close(got, want, atol=2e-5, rtol=1e-4)
    want_fb = F.scaled_dot_product_attention(q, k[:, :1].expand(-1, 4, -1, -1), v[:, :1].expand(-1, 4, -1, -1),
                                             attn_mask=mask)
    torch.testing.assert_close(fallback, want_fb)
    assert F.scaled_dot_product_attention is not None and at._sdpa_original is None


def test_score_variants_through_the_op_and_compile(torch_cpu):
    # softcap, alibi_slopes and sinks through the registered op (opcheck: schema and fake
    # implementation) and a torch.compile(fullgraph=True) trace.
    torch = torch_cpu
    import attnjit.torch  # noqa: F401  (registers the ops)

    q, k, v = randn(torch, 1, 24, 4, 32) * 4, randn(torch, 1, 16, 2, 32), randn(torch, 1, 16, 2, 32)
    slopes = torch.tensor([0.5, 0.25, 0.125, 0.0625])
    sinks = torch.tensor([0.0, 1.0, -1.0, 2.0])
    o, lse = attnjit.attention(q, k, v, causal=True, softcap=5.0, alibi_slopes=slopes, sinks=sinks, return_lse=True)
    want_o, want_lse = ref.attention(as64(q), as64(k), as64(v), causal=True, softcap=5.0,
                                     alibi_slopes=as64(slopes), sinks=as64(sinks))
    ref.assert_close(as64(o), want_o, 2e-5, "out")
    ref.assert_close(as64(lse), want_lse, 2e-5, "lse")
    torch.library.opcheck(torch.ops.attnjit.attention.default,
                          (q, k, v, True, None, None, 0.0, "bshd", 5.0, slopes, sinks))

    def f(q, k, v):
        return attnjit.attention(q, k, v, causal=True, softcap=5.0, alibi_slopes=slopes, sinks=sinks)

    torch.testing.assert_close(torch.compile(f, fullgraph=True, backend="eager")(q, k, v), o)


def test_decode_softcap(torch_cpu):
    torch = torch_cpu
    q, kc = randn(torch, 2, 1, 4, 32) * 4, randn(torch, 2, 40, 2, 32)
    lens = torch.tensor([40, 17], dtype=torch.int32)
    o = attnjit.decode(q, kc, kc, lens, softcap=5.0)
    want = ref.attention(as64(q), as64(kc), as64(kc), seqlens=lens.numpy(), softcap=5.0)[0]
    ref.assert_close(as64(o), want, 2e-5, "out")


def test_plain_call_takes_the_op_directly_with_the_same_results(torch_cpu):
    # attnjit.attention's shortcut for the plain call (no variants, out=, runtime=): straight to
    # the registered op. It must give what the general path gives, keep its checks (layout,
    # causal type) and leave subclasses of Tensor (nn.Parameter, torch.compile's fakes) to it.
    torch = torch_cpu
    from attnjit import _api

    q, k, v = randn(torch, 2, 24, 4, 32), randn(torch, 2, 40, 2, 32), randn(torch, 2, 40, 2, 32)
    attnjit.attention(q, k, v)  # loads attnjit.torch: the shortcut is armed from here on
    assert _api._plain_op is not None and _api._plain_op[0] is torch.Tensor
    for causal in (False, True):
        for layout in ("bshd", "bhsd"):
            t = (q, k, v) if layout == "bshd" else tuple(x.transpose(1, 2) for x in (q, k, v))
            o, lse = attnjit.attention(*t, causal=causal, layout=layout, return_lse=True)
            # scale= given takes the general path: the same kernel, the same bits.
            o2, lse2 = attnjit.attention(*t, causal=causal, layout=layout, return_lse=True, scale=1.0 / 32 ** 0.5)
            assert torch.equal(o, o2) and torch.equal(lse, lse2), (causal, layout)
    want = ref.attention(as64(q), as64(k), as64(v), True)[0]
    ref.assert_close(as64(attnjit.attention(q, k, v, causal=True)), want, ref.tolerance("f32")[0], "out")
    with pytest.raises(ValueError, match="layout"):
        attnjit.attention(q, k, v, layout="sbhd")
    p = torch.nn.Parameter(q.clone(), requires_grad=False)
    assert torch.equal(attnjit.attention(p, k, v, causal=True), attnjit.attention(q, k, v, causal=True))
    # The shortcut is what runs: only the plain call reaches it.
    real, calls = _api._plain_op, []
    _api._plain_op = (real[0], lambda *a: calls.append(a) or real[1](*a))
    try:
        attnjit.attention(q, k, v, causal=True)
        attnjit.attention(q, k, v, causal=True, scale=0.2)
        attnjit.attention(p, k, v)
    finally:
        _api._plain_op = real
    assert len(calls) == 1
