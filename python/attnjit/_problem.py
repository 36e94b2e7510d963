"""Problem keys as small dataclasses. The grammar lives in the library (ProblemSpec::key /
parse): these classes only carry the fields, so a key round-trips exactly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional, Tuple, Union

from . import _attnjit


def _mask_fields(mask: str, window: Optional[Tuple[int, int]]) -> Tuple[str, int, int]:
    if window is None:
        return mask, 0, 0
    return mask, int(window[0]), int(window[1])


def _window_of(d: dict) -> Optional[Tuple[int, int]]:
    return (d["window_left"], d["window_right"]) if d["mask"] == "sliding_window" else None


def _variant_args(p) -> dict:
    """The variant fields as the library's keywords (its "off" values for None)."""
    return dict(softcap=0.0 if p.softcap is None else p.softcap, varlen=p.varlen, alibi=p.alibi, sink=p.sink,
                score_mod=p.score_mod or "", mask_mod=p.mask_mod or "", block_sparse=p.block_sparse,
                kv_dtype=p.kv_dtype or "same")


def _variants_of(d: dict) -> dict:
    """The dataclasses' variant fields from the library's parse (None for off)."""
    return dict(softcap=d["softcap"] or None, alibi=d["alibi"], sink=d["sink"], score_mod=d["score_mod"] or None,
                mask_mod=d["mask_mod"] or None, block_sparse=d["block_sparse"],
                kv_dtype=None if d["kv_dtype"] == "same" else d["kv_dtype"], varlen=d["varlen"])


@dataclass(frozen=True, kw_only=True)
class _Variants:
    """The key's optional fields, shared by both families (keyword-only, after the positional
    ones; None / False / 0 = off). ``score_mod`` / ``mask_mod``: the 16-hex-digit hashes of the
    snippets' texts; ``kv_dtype``: "e4m3" / "e5m2" (an fp8 KV cache, decode only)."""

    softcap: Optional[float] = None
    alibi: bool = False
    sink: bool = False
    score_mod: Optional[str] = None
    mask_mod: Optional[str] = None
    block_sparse: int = 0
    kv_dtype: Optional[str] = None
    varlen: bool = False


@dataclass(frozen=True)
class PrefillProblem(_Variants):
    """A prefill problem as the tuner and database key it: lengths are buckets (powers of two
    >= 16); ``even`` = both real lengths are multiples of 128. ``mask``: none | causal |
    sliding_window (then ``window=(left, right)``). Every optional field of the key (variants,
    pages, varlen) is a field here, so any key round-trips. ``str(p)`` is the canonical key."""

    dtype: str = "bf16"
    head_dim: int = 128
    mask: str = "none"
    window: Optional[Tuple[int, int]] = None
    group: int = 1
    seqlen_q: int = 16
    seqlen_k: int = 16
    even: bool = False
    page_size: int = 0  # paged K/V (tokens per page), 0 = contiguous
    family: ClassVar[str] = "prefill"

    @property
    def key(self) -> str:
        """The canonical key (validated by the library: ValueError naming a bad field)."""
        mask, wl, wr = _mask_fields(self.mask, self.window)
        return _attnjit.problem_key(self.family, self.dtype, self.head_dim, mask, wl, wr, self.group, self.seqlen_q,
                                    self.seqlen_k, self.page_size, self.even, **_variant_args(self))

    def __str__(self) -> str:
        return self.key

    @classmethod
    def for_shape(cls, *, dtype: str, head_dim: int, heads_q: int, heads_kv: int, seqlen_q: int, seqlen_k: int,
                  causal: bool = False, window: Optional[Tuple[int, int]] = None) -> "PrefillProblem":
        """The problem a call with these sizes runs (lengths bucketed, ``even`` derived)."""
        mask = "sliding_window" if window is not None else "causal" if causal else "none"
        _, wl, wr = _mask_fields(mask, window)
        d = _attnjit.problem_for_shape("prefill", dtype, head_dim, mask, wl, wr, heads_q, heads_kv, seqlen_q,
                                       seqlen_k, 0)
        return problem(d)  # type: ignore[return-value]


@dataclass(frozen=True)
class DecodeProblem(_Variants):
    """A decode problem: ``q_tokens`` query tokens per sequence (exact, 1..16), ``seqlen_k`` the
    KV-length bucket, ``page_size`` 0 for a contiguous cache. ``str(p)`` is the canonical key."""

    dtype: str = "bf16"
    head_dim: int = 128
    mask: str = "none"
    window: Optional[Tuple[int, int]] = None
    group: int = 1
    q_tokens: int = 1
    seqlen_k: int = 16
    page_size: int = 0
    family: ClassVar[str] = "decode"

    @property
    def key(self) -> str:
        """The canonical key (validated by the library: ValueError naming a bad field)."""
        mask, wl, wr = _mask_fields(self.mask, self.window)
        return _attnjit.problem_key(self.family, self.dtype, self.head_dim, mask, wl, wr, self.group, self.q_tokens,
                                    self.seqlen_k, self.page_size, False, **_variant_args(self))

    def __str__(self) -> str:
        return self.key


Problem = Union[PrefillProblem, DecodeProblem]


def problem(key: Union[str, dict, PrefillProblem, DecodeProblem]) -> Problem:
    """The dataclass for a canonical key (``attnjit.problem("prefill_bf16_hd128_causal_g4_q4096_k4096")``)."""
    if isinstance(key, (PrefillProblem, DecodeProblem)):
        return key
    if isinstance(key, str):
        d = _attnjit.parse_problem(key)
    elif isinstance(key, dict):
        d = key
    else:
        raise TypeError(f"problem: expected a key string or a problem dataclass, got {type(key).__name__}")
    if d["family"] == "prefill":
        return PrefillProblem(d["dtype"], d["head_dim"], d["mask"], _window_of(d), d["group"], d["seqlen_q"],
                              d["seqlen_k"], d["even"], d["page_size"], **_variants_of(d))
    return DecodeProblem(d["dtype"], d["head_dim"], d["mask"], _window_of(d), d["group"], d["seqlen_q"], d["seqlen_k"],
                         d["page_size"], **_variants_of(d))


def key_of(p: Union[str, Problem], name: str = "problem") -> str:
    """The canonical key of a key string or dataclass (a string is parsed, so it is checked)."""
    if isinstance(p, (PrefillProblem, DecodeProblem)):
        return p.key
    if isinstance(p, str):
        return problem(p).key
    raise TypeError(f"{name}: expected a problem key string or a PrefillProblem / DecodeProblem, got "
                    f"{type(p).__name__}")
