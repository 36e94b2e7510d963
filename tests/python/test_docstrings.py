"""Every public function, class and method of the package carries a docstring (the issue's
promise; they are also what help() and the .pyi stubs show)."""

import inspect

import attnjit
import attnjit._attnjit as module


def undocumented(obj, prefix, seen):
    missing = []
    for name in dir(obj):
        if name.startswith("_"):
            continue
        x = getattr(obj, name, None)
        if not (inspect.isclass(x) or callable(x)) or id(x) in seen:
            continue
        if inspect.isclass(x) and not getattr(x, "__module__", "").startswith("attnjit"):
            continue  # typing helpers and the like, imported for annotations
        if not inspect.isclass(x) and not getattr(x, "__module__", "attnjit").startswith("attnjit"):
            continue
        seen.add(id(x))
        if not (inspect.getdoc(x) or "").strip():
            missing.append(f"{prefix}.{name}")
        if inspect.isclass(x):
            missing += undocumented(x, f"{prefix}.{name}", seen)
    return missing


def test_every_public_name_has_a_docstring():
    seen = set()
    missing = undocumented(attnjit, "attnjit", seen) + undocumented(module, "attnjit._attnjit", seen)
    assert not missing, f"no docstring: {missing}"
    assert len(seen) > 20, f"the walk found only {len(seen)} names"


def test_torch_module_is_documented():
    import pytest

    pytest.importorskip("torch", reason="torch is not installed")
    import attnjit.torch as at

    missing = [n for n in ("enable_sdpa_override", "disable_sdpa_override", "compiling", "attention_op", "decode_op",
                           "attention_varlen_op", "attention_paged_op") if not (getattr(at, n).__doc__ or "").strip()]
    assert not missing and at.__doc__, f"attnjit.torch: no docstring: {missing}"
