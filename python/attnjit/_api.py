"""attnjit.attention and attnjit.decode: argument handling around Runtime.prefill / decode.

torch tensors go through the registered ops (attnjit/torch.py) so torch.compile sees them; other
arrays (numpy, anything with __dlpack__) call the runtime directly with outputs allocated here.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Optional, Sequence, Tuple

from ._runtime import Runtime, device_of, runtime_for

Window = Optional[Sequence[int]]


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


def _no_softcap(softcap: Optional[float]) -> None:
    # The kernels have no logit soft-capping yet; refusing is better than ignoring it.
    if softcap is not None:
        raise ValueError("softcap: not supported by attnjit's kernels yet (pass None)")


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
          lse_shape: Callable[[Tuple[int, ...]], Tuple[int, ...]], op: Callable[[Any], Tuple[Any, Any]], direct: Callable[[Runtime, Any, Any], None]) -> Any:
    """The one path of both entry points: torch tensors through the registered op (returns fresh
    outputs; copied into `out` when given while tracing), everything else straight into the
    runtime with outputs allocated here."""
    if runtime is None and _is_torch(q):
        from . import torch as attnjit_torch

        if out is None or attnjit_torch.compiling():
            o, lse = op(attnjit_torch)
            if out is not None:
                out.copy_(o)
                o = out
            return (o, lse) if return_lse else o
    rt = runtime if runtime is not None else runtime_for(q, "q")
    shape = _shape(q, "q")
    if len(shape) != 4:
        raise ValueError(f"q: expected 4 dimensions, got shape {shape}")
    if out is None:
        out = _empty(q, shape, False, "q")
    lse = _empty(q, lse_shape(shape), True, "q") if return_lse else None
    direct(rt, out, lse)
    return (out, lse) if return_lse else out


def attention(q: Any, k: Any, v: Any, *, causal: bool = False, window: Window = None,
              softcap: Optional[float] = None, scale: Optional[float] = None, layout: str = "bshd",
              return_lse: bool = False, out: Any = None, runtime: Optional[Runtime] = None) -> Any:
    """Prefill (forward) attention, FlashAttention's ``flash_attn_func`` in shape.

    q: [batch, seqlen_q, heads_q, head_dim]; k, v: [batch, seqlen_k, heads_kv, head_dim]
    (``layout="bhsd"``: seqlen and heads swapped, PyTorch SDPA's order). Any strides with a
    contiguous head_dim; float16, bfloat16 or float32 (float32 on the CPU backend only).
    heads_q a multiple of heads_kv (GQA / MQA). Masks are bottom-right aligned when the lengths
    differ (query i sits at key position i + seqlen_k - seqlen_q); ``window=(left, right)``
    lets a query see the keys from ``left`` before to ``right`` after its position (with
    ``causal=True`` right must be 0). ``scale`` defaults to 1/sqrt(head_dim). Fully masked
    rows give 0, never NaN.

    Returns the output (like q), or ``(out, lse)`` with ``return_lse=True`` (lse: float32
    [batch, heads_q, seqlen_q], natural log). ``out=`` writes into a given array instead.
    CUDA work is enqueued on the current torch stream. Raises TypeError / ValueError naming
    the argument for bad input, BackendError when the device or compiler fails.
    """
    left, right = _window(window)
    _no_softcap(softcap)
    sc = _scale(scale)
    if layout not in ("bshd", "bhsd"):
        raise ValueError(f"layout: unknown value {layout!r} (allowed: bshd, bhsd)")
    return _call(
        q, out, return_lse, runtime,
        lambda s: (s[0], s[1], s[2]) if layout == "bhsd" else (s[0], s[2], s[1]),
        lambda t: t.attention_op(q, k, v, causal, left, right, sc, layout),
        lambda rt, o, lse: rt.prefill_into(q, k, v, o, lse, causal=causal, window_left=left, window_right=right,
                                           scale=sc, layout=layout, stream=_stream(q)))


def decode(q: Any, k_cache: Any, v_cache: Any, cache_seqlens: Any = None, *, block_table: Any = None,
           causal: bool = False, window: Window = None, softcap: Optional[float] = None,
           scale: Optional[float] = None, return_lse: bool = False, out: Any = None,
           max_seqlen_k: Optional[int] = None, runtime: Optional[Runtime] = None) -> Any:
    """Decode attention against a KV cache, as ``flash_attn_with_kvcache`` / FlashInfer decode.

    q: [batch, q_tokens, heads_q, head_dim] (1..16 new tokens per sequence). KV cache:
    contiguous [batch, capacity, heads_kv, head_dim], or paged [num_pages, page_size,
    heads_kv, head_dim] with ``block_table`` int32 [batch, max_pages] (page_size a power of two
    in 1..256). ``cache_seqlens``: int32 [batch] keys per sequence (None = every sequence
    fills the cache). Query token t of a sequence with L keys sits at key position
    L - q_tokens + t (``causal`` / ``window`` as in :func:`attention`). ``max_seqlen_k``: the
    longest sequence (default: read from cache_seqlens on the CPU; the capacity on a GPU, where
    reading it would synchronize).

    Returns the output (like q), or ``(out, lse)`` with ``return_lse=True`` (lse float32
    [batch, heads_q, q_tokens]).
    """
    left, right = _window(window)
    _no_softcap(softcap)
    sc = _scale(scale)
    if max_seqlen_k is not None and (isinstance(max_seqlen_k, bool) or not isinstance(max_seqlen_k, int)):
        raise TypeError(f"max_seqlen_k: expected an int, got {type(max_seqlen_k).__name__}")
    return _call(
        q, out, return_lse, runtime,
        lambda s: (s[0], s[2], s[1]),
        lambda t: t.decode_op(q, k_cache, v_cache, cache_seqlens, block_table, causal, left, right, sc, max_seqlen_k),
        lambda rt, o, lse: rt.decode_into(q, k_cache, v_cache, cache_seqlens, o, lse, block_table=block_table,
                                          causal=causal, window_left=left, window_right=right, scale=sc,
                                          max_seqlen_k=max_seqlen_k, stream=_stream(q)))
