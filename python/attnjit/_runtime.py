"""Runtimes: an explicit one (``attnjit.Runtime``) or the default one per device."""

from __future__ import annotations

import os
import threading
from typing import Any, Optional

from . import _attnjit

_DEVICE_CPU, _DEVICE_CUDA, _DEVICE_CUDA_HOST, _DEVICE_CUDA_MANAGED = 1, 2, 3, 13


class Runtime(_attnjit.Runtime):
    """A kernel runtime on one backend, with its own config provider and kernel cache.

    ``Runtime(backend="auto", db=None, cache_dir=None, device=-1)``: ``backend`` is ``"auto"``
    (CUDA when a GPU is usable, else the CPU), ``"cpu"`` or ``"cuda"``; ``db`` a tuning database
    whose best configs replace the built-in defaults; ``cache_dir`` the compiled-kernel disk
    cache; ``device`` the CUDA ordinal. Pass it as ``runtime=`` to :func:`attnjit.attention` /
    :func:`attnjit.decode`, or call its methods of the same names.
    """

    def attention(self, q: Any, k: Any, v: Any, **kwargs: Any) -> Any:
        """:func:`attnjit.attention` on this runtime."""
        from ._api import attention

        return attention(q, k, v, runtime=self, **kwargs)

    def decode(self, q: Any, k_cache: Any, v_cache: Any, cache_seqlens: Any = None, **kwargs: Any) -> Any:
        """:func:`attnjit.decode` on this runtime."""
        from ._api import decode

        return decode(q, k_cache, v_cache, cache_seqlens, runtime=self, **kwargs)

    def __repr__(self) -> str:
        db = f", db={self.db!r}" if self.db else ""
        return f"attnjit.Runtime(backend={self.backend!r}, target={self.target!r}{db})"


_lock = threading.Lock()
_defaults: dict[tuple[str, int], Runtime] = {}


def device_of(x: Any, name: str) -> tuple[str, int]:
    """("cpu", -1) or ("cuda", ordinal) for an array-like argument (TypeError naming it)."""
    dev = getattr(x, "__dlpack_device__", None)
    if dev is None:
        if hasattr(x, "__array_interface__") or isinstance(x, memoryview):
            return ("cpu", -1)
        raise TypeError(f"{name}: expected an array (an object with __dlpack__ or the buffer protocol), "
                        f"got {type(x).__name__}")
    kind, index = dev()
    if kind in (_DEVICE_CPU, _DEVICE_CUDA_HOST):
        return ("cpu", -1)
    if kind in (_DEVICE_CUDA, _DEVICE_CUDA_MANAGED):
        return ("cuda", int(index))
    raise ValueError(f"{name}: DLPack device type {kind} is neither the CPU nor a CUDA device")


def default_runtime(device: str = "cpu", index: int = 0) -> Runtime:
    """The shared runtime for ``device`` ("cpu" or "cuda") and CUDA ordinal ``index``.

    Created on first use; uses the tuning database ``$ATTNJIT_DB`` when that is set. CPU arrays
    always run on the CPU backend and CUDA arrays on the GPU backend.
    """
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device: unknown value {device!r} (allowed: cpu, cuda)")
    key = (device, index if device == "cuda" else -1)
    rt = _defaults.get(key)
    if rt is None:
        with _lock:
            rt = _defaults.get(key)
            if rt is None:
                db: Optional[str] = os.environ.get("ATTNJIT_DB") or None
                rt = Runtime(device, db=db, device=key[1])
                _defaults[key] = rt
    return rt


def runtime_for(x: Any, name: str) -> Runtime:
    device, index = device_of(x, name)
    return default_runtime(device, index)
