"""attnjit: attention kernels generated, compiled and tuned at run time for the device at hand.

    import numpy as np, attnjit
    q = np.random.rand(1, 128, 4, 64).astype(np.float32)     # [batch, seqlen, heads, head_dim]
    o = attnjit.attention(q, q, q, causal=True)

CPU arrays (numpy, CPU torch tensors, anything with ``__dlpack__``) run on the CPU backend, CUDA
tensors on the GPU backend; torch tensors go through the registered ops ``attnjit::attention``
and ``attnjit::decode`` (``torch.compile`` traces them without a graph break).
"""

from ._attnjit import BackendError, DatabaseError, SpecError, version as __version__
from ._api import attention, attention_varlen, block_mask, decode
from ._problem import DecodeProblem, PrefillProblem, problem
from ._runtime import Runtime, default_runtime
from ._tune import BestConfig, Candidate, TuneResult, best, tune

SpecError.__doc__ = ("Bad input the library refuses (a ValueError): the message names the field, e.g. "
                     "'head_dim: unsupported value 80'; a snippet that does not compile quotes the compiler.")
BackendError.__doc__ = ("The device, driver or compiler failed (a RuntimeError): no backend of that kind, "
                        "NVRTC / clang errors, CUDA errors.")
DatabaseError.__doc__ = "The tuning database could not be opened, read or written (SQLite's message included)."

__all__ = [
    "attention", "attention_varlen", "block_mask", "decode", "Runtime", "default_runtime", "tune", "best", "TuneResult",
    "Candidate",
    "BestConfig", "PrefillProblem", "DecodeProblem", "problem", "SpecError", "BackendError",
    "DatabaseError", "__version__",
]
