"""CUDA tensors on the GPU backend (skipped with the reason when no GPU is present)."""

import pytest

np = pytest.importorskip("numpy", reason="numpy is not installed (the reference and the CPU tests need it)")

import attnjit
import reference as ref


def test_prefill_matches_reference_and_sdpa(cuda):
    torch = cuda
    F = torch.nn.functional
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 8, 256, 128, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    s = torch.cuda.Stream()
    with torch.cuda.stream(s):  # enqueued on the current stream, not the default one
        o, lse = attnjit.attention(q, k, v, causal=True, layout="bhsd", return_lse=True)
    s.synchronize()
    want = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(o, want, atol=2e-2, rtol=2e-2)
    want_o, want_lse = ref.attention(*(x.transpose(1, 2).float().cpu().numpy() for x in (q, k, v)), causal=True)
    ref.assert_close(lse.cpu().numpy(), want_lse, 1e-3, "lse")


def test_gqa_window_and_compile(cuda):
    torch = cuda
    q = torch.randn(1, 200, 8, 64, device="cuda", dtype=torch.float16)
    k, v = (torch.randn(1, 300, 2, 64, device="cuda", dtype=torch.float16) for _ in range(2))
    o = attnjit.attention(q, k, v, window=(64, 0))
    want = ref.attention(*(x.float().cpu().numpy() for x in (q, k, v)), window=(64, 0))[0]
    ref.assert_close(o.float().cpu().numpy(), want, 4e-3, "out")
    f = torch.compile(lambda a, b, c: attnjit.attention(a, b, c, window=(64, 0)) * 2, fullgraph=True)
    torch.testing.assert_close(f(q, k, v), o * 2)


def test_decode_paged(cuda):
    torch = cuda
    b, hq, hkv, d, page = 4, 16, 2, 128, 16
    lens = torch.tensor([100, 1, 64, 250], dtype=torch.int32, device="cuda")
    pages = 64
    kp, vp = (torch.randn(pages, page, hkv, d, device="cuda", dtype=torch.bfloat16) for _ in range(2))
    table = torch.randperm(pages, device="cuda")[: b * 16].reshape(b, 16).to(torch.int32)
    q = torch.randn(b, 1, hq, d, device="cuda", dtype=torch.bfloat16)
    o = attnjit.decode(q, kp, vp, lens, block_table=table, max_seqlen_k=256)
    k, v = kp[table.long()].reshape(b, 16 * page, hkv, d), vp[table.long()].reshape(b, 16 * page, hkv, d)
    for i in range(b):
        n = int(lens[i])
        want = ref.attention(*(x[i:i + 1, :n if j else None].float().cpu().numpy() for j, x in enumerate((q, k, v))))[0]
        ref.assert_close(o[i:i + 1].float().cpu().numpy(), want, 2e-2, f"out[{i}]")


def test_device_mismatch(cuda):
    rt = attnjit.default_runtime("cuda", 0)
    x = np.zeros((1, 16, 2, 64), np.float16)
    with pytest.raises(ValueError, match=r"^q: is on cpu but the runtime runs on cuda:0"):
        rt.prefill_into(x, x, x, np.zeros_like(x), None)


@pytest.mark.parametrize("fp8", ["float8_e4m3fn", "float8_e5m2"])
def test_decode_fp8_paged(cuda, fp8):
    # An fp8 cache (float8 tensors, per-head scales as a CUDA tensor, a float for V) against a
    # float64 reference over the cache dequantised by torch; outputs poisoned first.
    torch = cuda
    b, hq, hkv, d, page, pages = 3, 16, 2, 128, 16, 48
    lens = torch.tensor([200, 1, 77], dtype=torch.int32, device="cuda")
    kp, vp = ((torch.randn(pages, page, hkv, d, device="cuda") * 8).to(getattr(torch, fp8)) for _ in range(2))
    ks = torch.tensor([0.05, 0.2], device="cuda")
    table = torch.randperm(pages, device="cuda")[: b * 16].reshape(b, 16).to(torch.int32)
    q = torch.randn(b, 1, hq, d, device="cuda", dtype=torch.bfloat16)
    out = torch.full_like(q, float("nan"))
    attnjit.decode(q, kp, vp, lens, block_table=table, k_scale=ks, v_scale=0.1, max_seqlen_k=256, out=out)
    k = kp.double()[table.long()].reshape(b, 16 * page, hkv, d) * ks.double()[:, None]  # no fp8 indexing
    v = vp.double()[table.long()].reshape(b, 16 * page, hkv, d) * 0.1
    for i in range(b):
        n = int(lens[i])
        want = ref.attention(q[i:i + 1].double().cpu().numpy(), k[i:i + 1, :n].cpu().numpy(),
                             v[i:i + 1, :n].cpu().numpy())[0]
        ref.assert_close(out[i:i + 1].double().cpu().numpy(), want, 2e-2, f"out[{i}]")
