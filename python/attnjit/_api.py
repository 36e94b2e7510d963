"""attnjit.attention and attnjit.decode: argument handling around Runtime.prefill / decode.

torch tensors go through the registered ops (attnjit/torch.py) so torch.compile sees them; other
arrays (numpy, anything with __dlpack__) call the runtime directly with outputs allocated here.
"""

from __future__ import annotations

import math
import sys
from typing import Any, Callable, Optional, Sequence, Tuple

from ._runtime import Runtime, device_of, runtime_for

Window = Optional[Sequence[int]]

# (torch.Tensor, torch.ops.attnjit.attention.default) once attnjit.torch is loaded: the plain
# call on plain tensors (no score variants, no out=, no runtime=) goes straight to the op, which
# checks its arguments in C++ — the generic path's Python checks and closures cost ~3 us a call.
_plain_op: Optional[Tuple[type, Any]] = None


def _window(window: Window) -> Tuple[Optional[int], Optional[int]]:
    if window is None:
        return None, None
    try:
        left, right = window
    except (TypeError, ValueError):
        raise TypeError(f"window: expected a pair (left, right) of key counts, got {window!r}") from None
    if not all(isinstance(w, int) and not isinstance(w, bool) for w in (left, right)):
        raise TypeError(f"window: expected two ints (left, right), got {window!r}")
    return left, right


def _scale(scale: Optional[float]) -> float:
    if scale is None:
        return 0.0  # the library's 1 / sqrt(head_dim)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)):
        raise TypeError(f"scale: expected a float, got {type(scale).__name__}")
    if not scale > 0:
        raise ValueError(f"scale: must be > 0, got {scale}")
    return float(scale)


def _softcap(softcap: Optional[float]) -> float:
    if softcap is None:
        return 0.0  # off
    if isinstance(softcap, bool) or not isinstance(softcap, (int, float)):
        raise TypeError(f"softcap: expected a float, got {type(softcap).__name__}")
    if not (softcap > 0 and math.isfinite(softcap)):
        raise ValueError(f"softcap: must be a finite number > 0 (or None), got {softcap}")
    return float(softcap)


def _is_torch(x: Any) -> bool:
    # Without importing torch: a torch tensor's type lives in the torch package.
    t = type(x)
    return t.__module__.startswith("torch") and "torch" in sys.modules and isinstance(x, sys.modules["torch"].Tensor)


def _shape(x: Any, name: str) -> Tuple[int, ...]:
    shape = getattr(x, "shape", None)
    if shape is None:
        raise TypeError(f"{name}: expected an array with a shape, got {type(x).__name__}")
    return tuple(int(s) for s in shape)


def _empty(like: Any, shape: Tuple[int, ...], float32: bool, name: str) -> Any:
    """An uninitialized output in the same library and device as `like`."""
    if _is_torch(like):
        import torch

        return torch.empty(shape, dtype=torch.float32 if float32 else like.dtype, device=like.device)
    device, _ = device_of(like, name)
    if device != "cpu":
        raise TypeError(f"out: required for {type(like).__name__} arrays on {device} (attnjit allocates "
                        "outputs only for numpy and torch)")
    import numpy as np

    if float32:
        dtype = np.float32
    elif isinstance(like, np.ndarray):
        dtype = like.dtype
    else:
        dtype = (np.from_dlpack(like) if hasattr(like, "__dlpack__") else np.asarray(like)).dtype
    return np.empty(shape, dtype=dtype)


def _stream(x: Any) -> int:
    if _is_torch(x) and x.is_cuda:
        import torch

        return torch.cuda.current_stream(x.device).cuda_stream
    return 0


def _call(q: Any, out: Any, return_lse: bool, runtime: Optional[Runtime],
          lse_shape: Callable[[Tuple[int, ...]], Tuple[int, ...]], op: Callable[[Any], Tuple[Any, Any]],
          direct: Callable[[Runtime, Any, Any], None], ndim: int = 4) -> Any:
    """The one path of every entry point: torch tensors through the registered op (returns fresh
    outputs; copied into `out` when given while tracing), everything else straight into the
    runtime with outputs allocated here (q has `ndim` dimensions; lse_shape maps q's shape)."""
    if runtime is None and _is_torch(q):
        from . import torch as attnjit_torch

        global _plain_op
        if _plain_op is None:
            _plain_op = (sys.modules["torch"].Tensor, attnjit_torch.attention_op)
        if out is None or attnjit_torch.compiling():
            o, lse = op(attnjit_torch)
            if out is not None:
                out.copy_(o)
                o = out
            return (o, lse) if return_lse else o
    rt = runtime if runtime is not None else runtime_for(q, "q")
    shape = _shape(q, "q")
    if len(shape) != ndim:
        raise ValueError(f"q: expected {ndim} dimensions, got shape {shape}")
    if out is None:
        out = _empty(q, shape, False, "q")
    lse = _empty(q, lse_shape(shape), True, "q") if return_lse else None
    direct(rt, out, lse)
    return (out, lse) if return_lse else out



def _kv_scales(q: Any, k_cache: Any, k_scale: Any, v_scale: Any) -> Tuple[Any, Any]:
    """Python floats as float32 arrays in q's library and device (the library reads scales from
    the backend's memory); a float next to a per-head array becomes per head too. Arrays pass
    through: the module checks their dtype, shape and device, naming them."""
    def size(s: Any) -> int:
        shape = getattr(s, "shape", None)
        return int(shape[0]) if shape is not None and len(shape) == 1 else 1

    def as_array(name: str, s: Any, n: int) -> Any:
        if s is None or not isinstance(s, (int, float)):
            return s
        if isinstance(s, bool):
            raise TypeError(f"{name}: expected a float or a float32 array, got bool")
        if not math.isfinite(s):
            raise ValueError(f"{name}: must be finite, got {s}")
        if _is_torch(q):
            import torch

            return torch.full((n,), float(s), dtype=torch.float32, device=q.device)
        device, _ = device_of(q, "q")
        if device != "cpu":
            raise TypeError(f"{name}: give a float32 array on {device} for {type(q).__name__} arrays (attnjit "
                            "allocates only numpy and torch arrays)")
        import numpy as np

        return np.full((n,), s, dtype=np.float32)

    n = max(size(k_scale), size(v_scale))
    return as_array("k_scale", k_scale, n), as_array("v_scale", v_scale, n)


def _int(x: Any, name: str) -> int:
    if isinstance(x, bool) or not isinstance(x, int):
        raise TypeError(f"{name}: expected an int, got {type(x).__name__}")
    return x


def attention_varlen(q: Any, k: Any, v: Any, cu_seqlens_q: Any, cu_seqlens_k: Any, max_seqlen_q: int,
                     max_seqlen_k: int, *, causal: bool = False, window: Window = None,
                     softcap: Optional[float] = None, scale: Optional[float] = None, return_lse: bool = False,
                     block_table: Any = None, seqused_k: Any = None, out: Any = None,
                     runtime: Optional[Runtime] = None) -> Any:
    """Varlen (packed) prefill, FlashAttention's ``flash_attn_varlen_func``: one launch for a
    batch of sequences of different lengths, no padding computed.

    q: [total_q, heads_q, head_dim], sequence b owning rows ``cu_seqlens_q[b]:cu_seqlens_q[b+1]``
    (int32 [batch + 1], starting at 0, non-decreasing); k, v: [total_k, heads_kv, head_dim] by
    ``cu_seqlens_k`` — or, with ``block_table`` (int32 [batch, max_pages]), a paged cache
    [num_pages, page_size, heads_kv, head_dim] with ``seqused_k`` (int32 [batch]) keys per
    sequence (then pass ``cu_seqlens_k=None``). ``max_seqlen_q`` / ``max_seqlen_k``: the longest
    sequences (they pick the kernel's length buckets). Masks align per sequence, bottom-right:
    query i of a sequence with n queries and L keys sits at key position L - n + i. Returns the
    output (like q), or ``(out, lse)`` with lse float32 [heads_q, total_q].
    """
    left, right = _window(window)
    sc, cap = _scale(scale), _softcap(softcap)
    mq, mk = _int(max_seqlen_q, "max_seqlen_q"), _int(max_seqlen_k, "max_seqlen_k")
    if block_table is None and seqused_k is not None:
        raise ValueError("seqused_k: only with a block_table (paged K/V)")
    return _call(
        q, out, return_lse, runtime, lambda s: (s[1], s[0]),
        lambda t: t.attention_varlen_op(q, k, v, cu_seqlens_q, cu_seqlens_k, seqused_k, block_table, mq, mk,
                                        causal, left, right, sc, cap),
        lambda rt, o, lse: rt.prefill_varlen_into(
            q, k, v, o, lse, cu_seqlens_q=cu_seqlens_q, cu_seqlens_k=cu_seqlens_k, cache_seqlens=seqused_k,
            block_table=block_table, max_seqlen_q=mq, max_seqlen_k=mk, causal=causal, window_left=left,
            window_right=right, scale=sc, softcap=cap, stream=_stream(q)), ndim=3)


def attention(q: Any, k: Any, v: Any, *, causal: bool = False, window: Window = None,
              softcap: Optional[float] = None, scale: Optional[float] = None, layout: str = "bshd",
              return_lse: bool = False, out: Any = None, runtime: Optional[Runtime] = None,
              block_table: Any = None, cache_seqlens: Any = None,
              alibi_slopes: Any = None, sinks: Any = None,
              score_mod: Optional[str] = None, mask_mod: Optional[str] = None, aux: Sequence[Any] = (),
              block_mask: Any = None) -> Any:
    """Prefill (forward) attention, FlashAttention's ``flash_attn_func`` in shape.

    q: [batch, seqlen_q, heads_q, head_dim]; k, v: [batch, seqlen_k, heads_kv, head_dim]
    (``layout="bhsd"``: seqlen and heads swapped, PyTorch SDPA's order). Any strides with a
    contiguous head_dim; float16, bfloat16 or float32 (float32 on the CPU backend only).
    heads_q a multiple of heads_kv (GQA / MQA). Masks are bottom-right aligned when the lengths
    differ (query i sits at key position i + seqlen_k - seqlen_q); ``window=(left, right)``
    lets a query see the keys from ``left`` before to ``right`` after its position (with
    ``causal=True`` right must be 0). ``scale`` defaults to 1/sqrt(head_dim). Fully masked
    rows give 0, never NaN.

    Score variants: ``softcap=c`` maps the scaled scores s to c * tanh(s / c) (Gemma 2);
    ``alibi_slopes`` (float32 [heads_q] or [batch, heads_q], flash-attn's convention) adds
    -slope * |i + seqlen_k - seqlen_q - j| to the score of query i and key j; ``sinks``
    (float32 [heads_q], gpt-oss) is one logit per head in the softmax denominator:
    out = sum_j e^(s_j) v_j / (e^sink + sum_j e^(s_j)), and the LSE includes it (a fully
    masked row gives out 0 and LSE = sink).

    Returns the output (like q), or ``(out, lse)`` with ``return_lse=True`` (lse: float32
    [batch, heads_q, seqlen_q], natural log). ``out=`` writes into a given array instead.
    CUDA work is enqueued on the current torch stream. Raises TypeError / ValueError naming
    the argument for bad input, BackendError when the device or compiler fails.

    Paged KV (chunked prefill, prefix caching; FlashInfer's paged prefill): with ``block_table``
    (int32 [batch, max_pages]) k and v are caches [num_pages, page_size, heads_kv, head_dim]
    (page_size a power of two in 1..256) and ``cache_seqlens`` (int32 [batch]) gives each
    sequence's keys, the new tokens' included: query i of the seqlen_q new tokens sits at key
    position cache_seqlens[b] - seqlen_q + i. Layout "bshd" only.

    User variants (FlexAttention's hooks as C++ snippets, compiled into the kernel):
    ``score_mod`` is the body of ``Score score_mod(Score score, int b, int h, int q_idx, int
    kv_idx)``, ``mask_mod`` the body of ``bool mask_mod(int b, int h, int q_idx, int kv_idx)``;
    both may read ``aux<int>(i)`` / ``aux<float>(i)``, the 1-D int32 / float32 arrays of ``aux``
    (at most 4, on q's device). ``block_mask`` (from :func:`block_mask`) skips hidden tiles.
    A snippet runs with the caller's rights; one that does not compile raises SpecError quoting
    the compiler at the snippet's line.
    """
    if (_plain_op is not None and type(q) is _plain_op[0] and out is None and runtime is None and window is None
            and softcap is None and scale is None and block_table is None and cache_seqlens is None
            and alibi_slopes is None and sinks is None and score_mod is None and mask_mod is None and not aux
            and block_mask is None and causal.__class__ is bool and (layout == "bshd" or layout == "bhsd")):
        o, lse = _plain_op[1](q, k, v, causal, None, None, 0.0, layout, 0.0, None, None)
        return (o, lse) if return_lse else o
    if block_table is not None or cache_seqlens is not None:
        if block_table is None or cache_seqlens is None:
            raise ValueError("block_table / cache_seqlens: a paged cache needs both")
        if layout != "bshd":
            raise ValueError(f"layout: paged prefill takes q as bshd, got {layout!r}")
        for name, val in (("alibi_slopes", alibi_slopes), ("sinks", sinks), ("score_mod", score_mod),
                          ("mask_mod", mask_mod), ("block_mask", block_mask)):
            if val is not None:
                raise ValueError(f"{name}: not available with a paged cache from Python yet")
        left, right = _window(window)
        sc, cap = _scale(scale), _softcap(softcap)
        return _call(
            q, out, return_lse, runtime, lambda s: (s[0], s[2], s[1]),
            lambda t: t.attention_paged_op(q, k, v, cache_seqlens, block_table, causal, left, right, sc, cap),
            lambda rt, o, lse: rt.prefill_varlen_into(
                q, k, v, o, lse, cache_seqlens=cache_seqlens, block_table=block_table, causal=causal,
                window_left=left, window_right=right, scale=sc, softcap=cap, stream=_stream(q)))
    user = bool(score_mod or mask_mod or aux or block_mask is not None)
    if user and runtime is None:
        runtime = runtime_for(q, "q")  # the registered torch op carries no snippets
    left, right = _window(window)
    cap = _softcap(softcap)
    sc = _scale(scale)
    if layout not in ("bshd", "bhsd"):
        raise ValueError(f"layout: unknown value {layout!r} (allowed: bshd, bhsd)")
    return _call(
        q, out, return_lse, runtime,
        lambda s: (s[0], s[1], s[2]) if layout == "bhsd" else (s[0], s[2], s[1]),
        lambda t: t.attention_op(q, k, v, causal, left, right, sc, layout, cap, alibi_slopes, sinks),
        lambda rt, o, lse: rt.prefill_into(q, k, v, o, lse, causal=causal, window_left=left, window_right=right,
                                           scale=sc, layout=layout, stream=_stream(q), softcap=cap,
                                           alibi_slopes=alibi_slopes, sinks=sinks, score_mod=score_mod or "",
                                           mask_mod=mask_mod or "", aux=list(aux) if aux else None,
                                           block_mask=block_mask))


def block_mask(q: Any, k: Any, *, causal: bool = False, window: Window = None, mask_mod: Optional[str] = None,
               aux: Sequence[Any] = (), tile: int = 128, layout: str = "bshd", per_batch: bool = False,
               per_head: bool = False, runtime: Optional[Runtime] = None) -> Any:
    """FlexAttention's ``create_block_mask`` for :func:`attention` with these q and k: which key
    tiles (``tile`` x ``tile``, 16..128) each query tile sees fully, partly or not at all under
    the mask and the ``mask_mod`` snippet, built once by a small kernel on q's backend. Pass the
    same mask, mask_mod and aux to :func:`attention` with ``block_mask=``."""
    left, right = _window(window)
    rt = runtime if runtime is not None else runtime_for(q, "q")
    qs, ks = _shape(q, "q"), _shape(k, "k")
    if len(qs) != 4 or len(ks) != 4:
        raise ValueError("q, k: expected 4 dimensions")
    s, h = (2, 1) if layout == "bhsd" else (1, 2)
    return rt.build_block_mask(qs[0], qs[h], qs[s], ks[s], causal=causal, window_left=left, window_right=right,
                               mask_mod=mask_mod or "", aux=list(aux) if aux else None, tile=tile,
                               per_batch=per_batch, per_head=per_head)


def decode(q: Any, k_cache: Any, v_cache: Any, cache_seqlens: Any = None, *, block_table: Any = None,
           causal: bool = False, window: Window = None, softcap: Optional[float] = None,
           scale: Optional[float] = None, return_lse: bool = False, out: Any = None,
           max_seqlen_k: Optional[int] = None, k_scale: Any = None, v_scale: Any = None,
           kv_dtype: Optional[str] = None, alibi_slopes: Any = None, sinks: Any = None,
           runtime: Optional[Runtime] = None, score_mod: Optional[str] = None, mask_mod: Optional[str] = None,
           aux: Sequence[Any] = ()) -> Any:
    """Decode attention against a KV cache, as ``flash_attn_with_kvcache`` / FlashInfer decode.

    q: [batch, q_tokens, heads_q, head_dim] (1..16 new tokens per sequence). KV cache:
    contiguous [batch, capacity, heads_kv, head_dim], or paged [num_pages, page_size,
    heads_kv, head_dim] with ``block_table`` int32 [batch, max_pages] (page_size a power of two
    in 1..256). ``cache_seqlens``: int32 [batch] keys per sequence (None = every sequence
    fills the cache). Query token t of a sequence with L keys sits at key position
    L - q_tokens + t (``causal`` / ``window`` as in :func:`attention`). ``max_seqlen_k``: the
    longest sequence (default: read from cache_seqlens on the CPU; the capacity on a GPU, where
    reading it would synchronize). ``softcap`` as in :func:`attention`.

    Score variants as in :func:`attention`: ``alibi_slopes`` (float32 [heads_q] or
    [batch, heads_q]) adds -slope * |L - q_tokens + t - j| to the score of query token t and
    key j; ``sinks`` (float32 [heads_q]) is one logit per head in the softmax denominator (the
    LSE includes it). Both on q's device; contiguous, paged and fp8 caches alike.

    fp8 KV cache (vLLM's / FlashInfer's ``kv_cache_dtype="fp8"``): k_cache and v_cache in
    torch.float8_e4m3fn or torch.float8_e5m2, or uint8 arrays of fp8 codes (numpy has no fp8
    dtype) with ``kv_dtype="e4m3"`` / ``"e5m2"``; ``k_scale`` / ``v_scale`` dequantise them,
    K = code * k_scale (likewise V): a float, or a float32 array on q's device with one value
    per tensor (shape () or (1,)) or per KV head ((heads_kv,)); a float costs a small array
    per call, so a decode loop should pass arrays it keeps. Queries and outputs stay
    float16 / bfloat16 (float32 on the CPU backend). Both scales are required with fp8 and
    refused without it.

    User variants: ``score_mod`` / ``mask_mod`` snippets and ``aux`` arrays as in
    :func:`attention`, with prefill's indices: q_idx is the query token (0..q_tokens-1), kv_idx
    the logical key (paged caches included), so decode equals prefill with seqlen_q = q_tokens
    and seqlen_k = the sequence's length.

    Returns the output (like q), or ``(out, lse)`` with ``return_lse=True`` (lse float32
    [batch, heads_q, q_tokens]).
    """
    left, right = _window(window)
    cap = _softcap(softcap)
    sc = _scale(scale)
    if kv_dtype is not None and kv_dtype not in ("e4m3", "e5m2"):
        raise ValueError(f"kv_dtype: unknown value {kv_dtype!r} (allowed: e4m3, e5m2, or None)")
    k_scale, v_scale = _kv_scales(q, k_cache, k_scale, v_scale)
    if max_seqlen_k is not None and (isinstance(max_seqlen_k, bool) or not isinstance(max_seqlen_k, int)):
        raise TypeError(f"max_seqlen_k: expected an int, got {type(max_seqlen_k).__name__}")
    mods = None
    if score_mod or mask_mod or aux:  # the registered torch op carries no snippets
        from ._attnjit import DecodeUserMods

        mods = DecodeUserMods(score_mod or "", mask_mod or "", list(aux) if aux else None)
        runtime = runtime if runtime is not None else runtime_for(q, "q")
    return _call(
        q, out, return_lse, runtime,
        lambda s: (s[0], s[2], s[1]),
        lambda t: t.decode_op(q, k_cache, v_cache, cache_seqlens, block_table, causal, left, right, sc, max_seqlen_k,
                              cap, k_scale, v_scale, kv_dtype, alibi_slopes, sinks),
        lambda rt, o, lse: rt.decode_into(q, k_cache, v_cache, cache_seqlens, o, lse, block_table=block_table,
                                          causal=causal, window_left=left, window_right=right, scale=sc,
                                          max_seqlen_k=max_seqlen_k, stream=_stream(q), softcap=cap,
                                          k_scale=k_scale, v_scale=v_scale, kv_dtype=kv_dtype or "",
                                          alibi_slopes=alibi_slopes, sinks=sinks, user_mods=mods))
