"""Problem keys as strings and dataclasses: the same canonical key both ways."""

import pytest

import attnjit

KEYS = [
    "prefill_bf16_hd128_causal_g4_q4096_k4096",
    "prefill_f16_hd64_sw1024-0_g1_q8192_k8192_even",
    "prefill_f32_hd32_none_g1_q16_k64",
    "decode_bf16_hd128_none_g8_q1_k32768_p16",
    "decode_f32_hd64_causal_g1_q4_k4096_p0",
    # Every optional field of the grammar (variants, pages, fp8 caches, varlen) reads back.
    "decode_bf16_hd128_none_g4_q1_k4096_p16_kv-e4m3",
    "decode_f16_hd64_causal_sc50_g8_q2_k32768_p0_kv-e5m2",
    "decode_bf16_hd128_none_alibi_sink_g8_q1_k32768_p16_kv-e4m3",
    "prefill_bf16_hd128_causal_sc30_alibi_sink_g4_q4096_k4096_varlen",
    "prefill_f32_hd64_none_sm0123456789abcdef_mm0123456789abcdef_bs64_g1_q128_k128",
    "prefill_bf16_hd128_causal_g4_q4096_k4096_p16_varlen",
    "prefill_bf16_hd128_causal_sc30.5_g1_q128_k128_even",
]


@pytest.mark.parametrize("key", KEYS)
def test_round_trip(key):
    p = attnjit.problem(key)
    assert str(p) == key and p.key == key
    assert attnjit.problem(p.key) == p
    assert type(p).__name__ == ("PrefillProblem" if key.startswith("prefill") else "DecodeProblem")


def test_fields():
    p = attnjit.problem("prefill_f16_hd64_sw1024-0_g2_q8192_k4096_even")
    assert p == attnjit.PrefillProblem("f16", 64, "sliding_window", (1024, 0), 2, 8192, 4096, True)
    d = attnjit.problem("decode_bf16_hd128_none_g8_q1_k32768_p16")
    assert (d.group, d.q_tokens, d.seqlen_k, d.page_size) == (8, 1, 32768, 16)


def test_for_shape_buckets_lengths():
    p = attnjit.PrefillProblem.for_shape(dtype="bf16", head_dim=128, heads_q=32, heads_kv=8, seqlen_q=3000,
                                         seqlen_k=3000, causal=True)
    assert p.key == "prefill_bf16_hd128_causal_g4_q4096_k4096"
    even = attnjit.PrefillProblem.for_shape(dtype="f32", head_dim=64, heads_q=1, heads_kv=1, seqlen_q=256,
                                            seqlen_k=256)
    assert even.even and even.key.endswith("_even")


def test_variant_fields():
    d = attnjit.problem("decode_bf16_hd128_none_sc50_g4_q1_k4096_p16_kv-e4m3")
    assert (d.kv_dtype, d.softcap, d.page_size, d.alibi, d.sink, d.varlen) == ("e4m3", 50.0, 16, False, False, False)
    assert attnjit.DecodeProblem(head_dim=128, group=4, seqlen_k=4096, page_size=16, softcap=50.0,
                                 kv_dtype="e4m3").key == d.key
    p = attnjit.problem("prefill_f32_hd64_causal_alibi_sink_sm0123456789abcdef_bs64_g1_q128_k128_p16_varlen")
    assert (p.alibi, p.sink, p.score_mod, p.mask_mod, p.block_sparse, p.page_size, p.varlen) == (
        True, True, "0123456789abcdef", None, 64, 16, True)
    assert attnjit.PrefillProblem().key == "prefill_bf16_hd128_none_g1_q16_k16"  # every variant off by default
    d = attnjit.problem("decode_f32_hd64_causal_alibi_sink_g4_q4_k4096_p0")
    assert (d.alibi, d.sink, d.q_tokens) == (True, True, 4)
    assert attnjit.DecodeProblem("f32", 64, "causal", group=4, q_tokens=4, seqlen_k=4096, alibi=True,
                                 sink=True).key == d.key


@pytest.mark.parametrize("fields,match", [
    (dict(kv_dtype="e4m3"), r"kv_dtype: an fp8 KV cache \(e4m3\) is supported for decode problems only"),
    (dict(kv_dtype="fp8"), r"kv_dtype: unknown value 'fp8'"),
    (dict(softcap=-1.0), r"softcap: must be 0 \(off\) or a finite number > 0"),
    (dict(score_mod="xyz"), r"score_mod: a snippet hash is 16 lowercase hex digits"),
    (dict(block_sparse=48), r"block_sparse"),
])
def test_variant_fields_are_checked(fields, match):
    with pytest.raises(ValueError, match=match):
        attnjit.PrefillProblem(**fields).key
