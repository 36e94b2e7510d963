"""Problem keys as strings and dataclasses: the same canonical key both ways."""

import pytest

import attnjit

KEYS = [
    "prefill_bf16_hd128_causal_g4_q4096_k4096",
    "prefill_f16_hd64_sw1024-0_g1_q8192_k8192_even",
    "prefill_f32_hd32_none_g1_q16_k64",
    "decode_bf16_hd128_none_g8_q1_k32768_p16",
    "decode_f32_hd64_causal_g1_q4_k4096_p0",
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
