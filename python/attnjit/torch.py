"""PyTorch integration: the custom ops ``attnjit::attention``, ``attnjit::attention_varlen``,
``attnjit::attention_paged`` and ``attnjit::decode``.

Importing this module registers them (``attnjit.attention`` / ``attnjit.decode`` do so on their
first torch tensor). Each op takes tensors only and returns ``(out, lse)``; its fake
implementation gives the shapes, so ``torch.compile(fullgraph=True)`` traces a model that calls
them without a graph break. Their CPU / CUDA kernels are C++ (attnjit/_torch_ops.so, built when
torch is importable at build time; ``native_ops`` names them) or, without that library or with
``ATTNJIT_TORCH_OPS=0``, the Python functions below::

    import attnjit.torch
    o, lse = torch.ops.attnjit.attention(q, k, v, True, None, None, 0.0, "bshd")
    # optional trailing arguments: softcap (0.0 = off), alibi_slopes, sinks (float32 tensors)
    o, lse = torch.ops.attnjit.decode(q, k_cache, v_cache, seqlens, None, False, None, None, 0.0, None,
                                      alibi_slopes=slopes, sinks=sinks)
"""

from __future__ import annotations

import ctypes
import os
import warnings
from typing import Optional, Tuple

import torch

from . import _attnjit
from ._runtime import default_runtime

Tensor = torch.Tensor
# DLPack capsules straight from torch's C++ (Tensor.__dlpack__ is Python code: several µs per
# tensor, most of a cache-hit call's cost).
_dl = torch.utils.dlpack.to_dlpack


def _opt(t: Optional[Tensor]):
    return None if t is None else _dl(t)


# Output allocation on the hot path: torch.empty(q.shape, dtype=q.dtype, device=q.device) reads
# three attributes and parses three arguments (~2.7 us on the 2-core VM); these take ~1.2 and
# ~1.6 us. Both give contiguous tensors, as the fake implementations do.
_CONTIGUOUS = torch.contiguous_format


def _out_like(q: Tensor) -> Tensor:
    return torch.empty_like(q, memory_format=_CONTIGUOUS)


def _f32(q: Tensor, shape) -> Tensor:
    return q.new_empty(shape, dtype=torch.float32)


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
            "float scale, str layout, float softcap=0.0, Tensor? alibi_slopes=None, Tensor? sinks=None) -> (Tensor, Tensor)")
_lib.define("attention_varlen(Tensor q, Tensor k, Tensor v, Tensor cu_seqlens_q, Tensor? cu_seqlens_k, "
            "Tensor? seqused_k, Tensor? block_table, int max_seqlen_q, int max_seqlen_k, bool causal, "
            "int? window_left, int? window_right, float scale, float softcap) -> (Tensor, Tensor)")
_lib.define("attention_paged(Tensor q, Tensor k_cache, Tensor v_cache, Tensor cache_seqlens, Tensor block_table, "
            "bool causal, int? window_left, int? window_right, float scale, float softcap) -> (Tensor, Tensor)")
_lib.define("decode(Tensor q, Tensor k_cache, Tensor v_cache, Tensor? cache_seqlens, Tensor? block_table, "
            "bool causal, int? window_left, int? window_right, float scale, int? max_seqlen_k, float softcap=0.0, "
            "Tensor? k_scale=None, Tensor? v_scale=None, str? kv_dtype=None, Tensor? alibi_slopes=None, "
            "Tensor? sinks=None) -> (Tensor, Tensor)")


def _attention_impl(q: Tensor, k: Tensor, v: Tensor, causal: bool, window_left: Optional[int],
                    window_right: Optional[int], scale: float, layout: str, softcap: float = 0.0,
                    alibi_slopes: Optional[Tensor] = None, sinks: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
    out = _out_like(q)
    lse = _f32(q, _lse_shape(q, layout) if q.dim() == 4 else (0,))
    _runtime(q).prefill_into(_dl(q), _dl(k), _dl(v), _dl(out), _dl(lse), causal=causal, window_left=window_left,
                             window_right=window_right, scale=scale, layout=layout, stream=_stream(q), softcap=softcap,
                             alibi_slopes=_opt(alibi_slopes), sinks=_opt(sinks))
    return out, lse


def _decode_impl(q: Tensor, k_cache: Tensor, v_cache: Tensor, cache_seqlens: Optional[Tensor],
                 block_table: Optional[Tensor], causal: bool, window_left: Optional[int], window_right: Optional[int],
                 scale: float, max_seqlen_k: Optional[int], softcap: float = 0.0, k_scale: Optional[Tensor] = None,
                 v_scale: Optional[Tensor] = None, kv_dtype: Optional[str] = None,
                 alibi_slopes: Optional[Tensor] = None, sinks: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
    out = _out_like(q)
    lse = _f32(q, (q.shape[0], q.shape[2], q.shape[1]) if q.dim() == 4 else (0,))
    _runtime(q).decode_into(_dl(q), _dl(k_cache), _dl(v_cache), _opt(cache_seqlens), _dl(out), _dl(lse),
                            block_table=_opt(block_table), causal=causal, window_left=window_left,
                            window_right=window_right, scale=scale, max_seqlen_k=max_seqlen_k, stream=_stream(q),
                            softcap=softcap, k_scale=_opt(k_scale), v_scale=_opt(v_scale), kv_dtype=kv_dtype or "",
                            alibi_slopes=_opt(alibi_slopes), sinks=_opt(sinks))
    return out, lse


def _attention_varlen_impl(q: Tensor, k: Tensor, v: Tensor, cu_seqlens_q: Tensor, cu_seqlens_k: Optional[Tensor],
                           seqused_k: Optional[Tensor], block_table: Optional[Tensor], max_seqlen_q: int,
                           max_seqlen_k: int, causal: bool, window_left: Optional[int], window_right: Optional[int],
                           scale: float, softcap: float) -> Tuple[Tensor, Tensor]:
    out = _out_like(q)
    lse = _f32(q, (q.shape[1], q.shape[0]) if q.dim() == 3 else (0,))
    _runtime(q).prefill_varlen_into(_dl(q), _dl(k), _dl(v), _dl(out), _dl(lse), cu_seqlens_q=_dl(cu_seqlens_q),
                                    cu_seqlens_k=_opt(cu_seqlens_k), cache_seqlens=_opt(seqused_k),
                                    block_table=_opt(block_table), max_seqlen_q=max_seqlen_q,
                                    max_seqlen_k=max_seqlen_k, causal=causal, window_left=window_left,
                                    window_right=window_right, scale=scale, softcap=softcap, stream=_stream(q))
    return out, lse


def _attention_paged_impl(q: Tensor, k_cache: Tensor, v_cache: Tensor, cache_seqlens: Tensor, block_table: Tensor,
                          causal: bool, window_left: Optional[int], window_right: Optional[int], scale: float,
                          softcap: float) -> Tuple[Tensor, Tensor]:
    out = _out_like(q)
    lse = _f32(q, _lse_shape(q, "bshd") if q.dim() == 4 else (0,))
    _runtime(q).prefill_varlen_into(_dl(q), _dl(k_cache), _dl(v_cache), _dl(out), _dl(lse),
                                    cache_seqlens=_dl(cache_seqlens), block_table=_dl(block_table), causal=causal,
                                    window_left=window_left, window_right=window_right, scale=scale,
                                    softcap=softcap, stream=_stream(q))
    return out, lse


_NATIVE_LIB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_torch_ops.so")


def _bind_native() -> Tuple[frozenset, str]:
    """Loads attnjit/_torch_ops.so, the ops' C++ kernels (python/torch_ops/), and hands it the
    module's function table, which registers them: torch's dispatcher then calls C++ without
    entering Python (a Python kernel costs ~11 us more per call, bench/RESULTS.md). Returns the
    ops it registered and, when none, why; those ops then keep the Python kernels above."""
    if os.environ.get("ATTNJIT_TORCH_OPS", "1") == "0":
        return frozenset(), "ATTNJIT_TORCH_OPS=0"
    if not os.path.exists(_NATIVE_LIB):
        return frozenset(), (f"{_NATIVE_LIB} is not built (it is when torch is importable at build time: "
                             "pip install --no-build-isolation .)")
    try:
        so = ctypes.CDLL(_NATIVE_LIB)
    except OSError as e:
        why = f"{_NATIVE_LIB} does not load ({e})"
        warnings.warn(f"attnjit: {why}; the torch ops use their Python kernels", RuntimeWarning, stacklevel=2)
        return frozenset(), why
    so.attnjit_torch_ops_torch_version.restype = ctypes.c_char_p
    so.attnjit_torch_ops_names.restype = ctypes.c_char_p
    built_for = so.attnjit_torch_ops_torch_version().decode()
    if built_for != torch.__version__:  # torch's C++ ABI changes between versions
        why = f"{_NATIVE_LIB} was built for torch {built_for}, this is torch {torch.__version__}"
        warnings.warn(f"attnjit: {why}; the torch ops use their Python kernels (rebuild attnjit)", RuntimeWarning,
                      stacklevel=2)
        return frozenset(), why
    err = ctypes.create_string_buffer(1024)
    if so.attnjit_torch_ops_bind(ctypes.c_void_p(_attnjit._ops_table()), err, ctypes.c_size_t(len(err))) != 0:
        raise RuntimeError(f"attnjit: binding {_NATIVE_LIB} failed: {err.value.decode()}")
    return frozenset(so.attnjit_torch_ops_names().decode().split(",")), ""


#: The ops whose CPU / CUDA kernels are C++ (attnjit/_torch_ops.so); the others' are Python.
native_ops, native_unavailable = _bind_native()
for _key in ("CPU", "CUDA"):
    for _name, _impl in (("attention_varlen", _attention_varlen_impl), ("attention_paged", _attention_paged_impl),
                         ("attention", _attention_impl), ("decode", _decode_impl)):
        if _name not in native_ops:
            _lib.impl(_name, _impl, _key)


@torch.library.register_fake("attnjit::attention", lib=_lib)
def _attention_fake(q, k, v, causal, window_left, window_right, scale, layout, softcap=0.0, alibi_slopes=None,
                    sinks=None):
    return q.new_empty(q.shape), q.new_empty(_lse_shape(q, layout), dtype=torch.float32)


@torch.library.register_fake("attnjit::attention_varlen", lib=_lib)
def _attention_varlen_fake(q, k, v, cu_seqlens_q, cu_seqlens_k, seqused_k, block_table, max_seqlen_q, max_seqlen_k,
                           causal, window_left, window_right, scale, softcap):
    return q.new_empty(q.shape), q.new_empty((q.shape[1], q.shape[0]), dtype=torch.float32)


@torch.library.register_fake("attnjit::attention_paged", lib=_lib)
def _attention_paged_fake(q, k_cache, v_cache, cache_seqlens, block_table, causal, window_left, window_right, scale,
                          softcap):
    return q.new_empty(q.shape), q.new_empty(_lse_shape(q, "bshd"), dtype=torch.float32)


@torch.library.register_fake("attnjit::decode", lib=_lib)
def _decode_fake(q, k_cache, v_cache, cache_seqlens, block_table, causal, window_left, window_right, scale,
                 max_seqlen_k, softcap=0.0, k_scale=None, v_scale=None, kv_dtype=None, alibi_slopes=None, sinks=None):
    # Outputs take q's dtype whatever the cache's (fp8 K/V are dequantised in the kernel).
    return q.new_empty(q.shape), q.new_empty((q.shape[0], q.shape[2], q.shape[1]), dtype=torch.float32)


attention_op = torch.ops.attnjit.attention.default
attention_op.__doc__ = """Prefill attention (see attnjit.attention); scale 0 = 1/sqrt(head_dim). Returns (out, lse)."""
attention_varlen_op = torch.ops.attnjit.attention_varlen.default
attention_varlen_op.__doc__ = """Varlen prefill (see attnjit.attention_varlen); scale 0 = default, softcap 0 = off. Returns (out, lse [hq, total_q])."""
attention_paged_op = torch.ops.attnjit.attention_paged.default
attention_paged_op.__doc__ = """Paged-KV prefill (see attnjit.attention with block_table). Returns (out, lse)."""
decode_op = torch.ops.attnjit.decode.default
decode_op.__doc__ = """Decode attention (see attnjit.decode); scale 0 = 1/sqrt(head_dim); fp8 caches take float32
k_scale / v_scale tensors (kv_dtype "e4m3" / "e5m2" for uint8 codes); alibi_slopes / sinks float32 tensors.
Returns (out, lse)."""


def compiling() -> bool:
    """True while torch.compile traces (outputs must then come from the op, not be written in place)."""
    return torch.compiler.is_compiling()


_sdpa_original = None


def _sdpa_supported(q: Tensor, k: Tensor, v: Tensor, attn_mask, dropout_p: float, is_causal: bool,
                    enable_gqa: bool) -> bool:
    """Whether F.scaled_dot_product_attention's semantics equal attnjit's for this call."""
    if attn_mask is not None or dropout_p != 0.0 or q.dim() != 4 or k.dim() != 4 or v.dim() != 4:
        return False
    if torch.is_grad_enabled() and (q.requires_grad or k.requires_grad or v.requires_grad):
        return False  # forward only
    if is_causal and q.shape[2] != k.shape[2]:
        return False  # SDPA's is_causal is top-left aligned, ours bottom-right: equal only when sq == sk
    if q.shape[1] != k.shape[1] and not enable_gqa:
        return False
    if q.dtype not in (torch.float16, torch.bfloat16, torch.float32) or not (q.dtype == k.dtype == v.dtype):
        return False
    if q.shape[-1] not in (32, 64, 96, 128, 192, 256) or v.shape[-1] != q.shape[-1]:
        return False
    return q.device == k.device == v.device and q.device.type in ("cpu", "cuda")


def enable_sdpa_override() -> None:
    """Route ``torch.nn.functional.scaled_dot_product_attention`` through attnjit where the
    semantics match (no attn_mask, no dropout, is_causal only with equal lengths, GQA with
    enable_gqa, no gradient needed, supported dtype and head dim); every other call goes to
    PyTorch's own implementation. Undo with :func:`disable_sdpa_override`."""
    global _sdpa_original
    if _sdpa_original is not None:
        return
    original = torch.nn.functional.scaled_dot_product_attention

    def sdpa(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
        if _sdpa_supported(query, key, value, attn_mask, dropout_p, is_causal, enable_gqa):
            return attention_op(query, key, value, is_causal, None, None, 0.0 if scale is None else float(scale),
                                "bhsd")[0]
        return original(query, key, value, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal,
                        scale=scale, enable_gqa=enable_gqa)

    _sdpa_original = original
    torch.nn.functional.scaled_dot_product_attention = sdpa


def disable_sdpa_override() -> None:
    """Restore PyTorch's own scaled_dot_product_attention."""
    global _sdpa_original
    if _sdpa_original is not None:
        torch.nn.functional.scaled_dot_product_attention = _sdpa_original
        _sdpa_original = None
