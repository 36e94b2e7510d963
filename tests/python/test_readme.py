"""The README's Python example runs as written (on the CPU backend)."""

import os
import pathlib
import re

import pytest

pytest.importorskip("numpy", reason="numpy is not installed (the reference and the CPU tests need it)")


def test_readme_example(cpu, capsys):
    path = pathlib.Path(os.environ.get("ATTNJIT_README", pathlib.Path(__file__).parents[2] / "README.md"))
    blocks = re.findall(r"```python\n(.*?)```", path.read_text(), re.S)
    assert blocks, f"{path}: no ```python example"
    assert len(blocks[0].strip().splitlines()) <= 12, "the README's example should stay about ten lines"
    exec(compile(blocks[0], str(path), "exec"), {})
    assert "max error" in capsys.readouterr().out
