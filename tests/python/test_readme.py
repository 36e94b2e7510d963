"""The README's Python examples run as written (on the CPU backend): every ```python block, in
order, in one namespace (later blocks may use earlier names), except those marked
```python skip=fragment (a snippet that needs shapes it does not build; each names the test
that runs it). Every "max error" a block prints must be small."""

import os
import pathlib
import re

import pytest

pytest.importorskip("numpy", reason="numpy is not installed (the reference and the CPU tests need it)")


def python_blocks():
    """(line of the fence, marks, code) of every ```python block."""
    path = pathlib.Path(os.environ.get("ATTNJIT_README", pathlib.Path(__file__).parents[2] / "README.md"))
    text = path.read_text()
    blocks = []
    for m in re.finditer(r"^```python([^\n]*)\n(.*?)^```", text, re.S | re.M):
        line = text.count("\n", 0, m.start()) + 1
        blocks.append((path, line, m.group(1).split(), m.group(2)))
    return blocks


def max_errors(out):
    return [float(x) for x in re.findall(r"max error[^:\n]*:\s*([-+0-9.eE]+)", out)]


def test_readme_examples(cpu, capsys):
    blocks = python_blocks()
    assert blocks, "README.md: no ```python example"
    assert len(blocks[0][3].strip().splitlines()) <= 12, "the README's first example should stay about ten lines"
    names = {}
    ran = 0
    for path, line, marks, code in blocks:
        unknown = [m for m in marks if m != "skip=fragment"]
        assert not unknown, f"{path}:{line}: unknown marks {unknown} (only skip=fragment)"
        if marks:
            continue
        if re.search(r"^import torch|^from torch|import torch\b", code, re.M):
            pytest.importorskip("torch", reason=f"{path}:{line} needs torch")
        exec(compile(code, f"{path}:{line}", "exec"), names)
        ran += 1
        out = capsys.readouterr().out
        errs = max_errors(out)
        assert errs, f"{path}:{line}: the example printed no max error: {out!r}"
        assert all(e < 1e-4 for e in errs), f"{path}:{line}: {out!r}"
    assert ran >= 2, "README.md: the attention and the fp8 decode examples should both run"


def test_max_errors_parser():
    assert max_errors("(2, 256, 8, 64) (2, 8, 256) max error vs MHA: 2.3e-07\n") == [2.3e-07]
    assert max_errors("fp8 decode, max error vs the float32 cache: 0.5\n") == [0.5]
