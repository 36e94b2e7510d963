"""PyTorch integration: the custom ops ``attnjit::attention`` and ``attnjit::decode``.

Importing this module registers them (``attnjit.attention`` / ``attnjit.decode`` do so on their
first torch tensor). Each op takes tensors only and returns ``(out, lse)``; its fake
implementation gives the shapes, so ``torch.compile(fullgraph=True)`` traces a model that calls
them without a graph break::

    import attnjit.torch
    o, lse = torch.ops.attnjit.attention(q, k, v, True, None, None, 0.0, "bshd")
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch

from ._runtime import default_runtime

Tensor = torch.Tensor
# DLPack capsules straight from torch's C++ (Tensor.__dlpack__ is Python code: several µs per
# tensor, most of a cache-hit call's cost).
_dl = torch.utils.dlpack.to_dlpack


def _opt(t: Optional[Tensor]):
    return None if t is None else _dl(t)


def _runtime(t: Tensor):
    if t.is_cuda:
        return default_runtime("cuda", t.device.index if t.device.index is not None else torch.cuda.current_device())
    return default_runtime("cpu")


def _stream(t: Tensor) -> int:
    return torch.cuda.current_stream(t.device).cuda_stream if t.is_cuda else 0


def _lse_shape(q: Tensor, layout: str) -> Tuple[int, int, int]:
    b, d1, d2, _ = q.shape
    return (b, d1, d2) if layout == "bhsd" else (b, d2, d1)


# Defined with torch.library.Library rather than @custom_op: the latter wraps every call in
# Python layers (autograd, dynamo guards) that cost more than the whole cache-hit launch
# (bench/RESULTS.md, "Python overhead"). The ops are forward-only: no autograd kernel.
_lib = torch.library.Library("attnjit", "DEF")
_lib.define("attention(Tensor q, Tensor k, Tensor v, bool causal, int? window_left, int? window_right, "
            "float scale, str layout) -> (Tensor, Tensor)")
_lib.define("decode(Tensor q, Tensor k_cache, Tensor v_cache, Tensor? cache_seqlens, Tensor? block_table, "
            "bool causal, int? window_left, int? window_right, float scale, int? max_seqlen_k) -> (Tensor, Tensor)")


def _attention_impl(q: Tensor, k: Tensor, v: Tensor, causal: bool, window_left: Optional[int],
                    window_right: Optional[int], scale: float, layout: str) -> Tuple[Tensor, Tensor]:
    out = torch.empty(q.shape, dtype=q.dtype, device=q.device)
    lse = torch.empty(_lse_shape(q, layout) if q.dim() == 4 else (0,), dtype=torch.float32, device=q.device)
    _runtime(q).prefill_into(_dl(q), _dl(k), _dl(v), _dl(out), _dl(lse), causal=causal, window_left=window_left,
                             window_right=window_right, scale=scale, layout=layout, stream=_stream(q))
    return out, lse


def _decode_impl(q: Tensor, k_cache: Tensor, v_cache: Tensor, cache_seqlens: Optional[Tensor],
                 block_table: Optional[Tensor], causal: bool, window_left: Optional[int], window_right: Optional[int],
                 scale: float, max_seqlen_k: Optional[int]) -> Tuple[Tensor, Tensor]:
    out = torch.empty(q.shape, dtype=q.dtype, device=q.device)
    lse = torch.empty((q.shape[0], q.shape[2], q.shape[1]) if q.dim() == 4 else (0,), dtype=torch.float32,
                      device=q.device)
    _runtime(q).decode_into(_dl(q), _dl(k_cache), _dl(v_cache), _opt(cache_seqlens), _dl(out), _dl(lse),
                            block_table=_opt(block_table), causal=causal, window_left=window_left,
                            window_right=window_right, scale=scale, max_seqlen_k=max_seqlen_k, stream=_stream(q))
    return out, lse


for _key in ("CPU", "CUDA"):
    _lib.impl("attention", _attention_impl, _key)
    _lib.impl("decode", _decode_impl, _key)


@torch.library.register_fake("attnjit::attention", lib=_lib)
def _attention_fake(q, k, v, causal, window_left, window_right, scale, layout):
    return q.new_empty(q.shape), q.new_empty(_lse_shape(q, layout), dtype=torch.float32)


@torch.library.register_fake("attnjit::decode", lib=_lib)
def _decode_fake(q, k_cache, v_cache, cache_seqlens, block_table, causal, window_left, window_right, scale,
                 max_seqlen_k):
    return q.new_empty(q.shape), q.new_empty((q.shape[0], q.shape[2], q.shape[1]), dtype=torch.float32)


attention_op = torch.ops.attnjit.attention.default
attention_op.__doc__ = """Prefill attention (see attnjit.attention); scale 0 = 1/sqrt(head_dim). Returns (out, lse)."""
decode_op = torch.ops.attnjit.decode.default
decode_op.__doc__ = """Decode attention (see attnjit.decode); scale 0 = 1/sqrt(head_dim). Returns (out, lse)."""


def compiling() -> bool:
    """True while torch.compile traces (outputs must then come from the op, not be written in place)."""
    return torch.compiler.is_compiling()
