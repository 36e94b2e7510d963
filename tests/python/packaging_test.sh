#!/usr/bin/env bash
# `pip install .` into a fresh venv (the README's Python set-up), then the README's Python
# example in that venv. Usage: packaging_test.sh SOURCE_DIR WORK_DIR. Network: pip fetches the
# build requirements (scikit-build-core, nanobind) and numpy from PyPI (or its cache); never torch.
set -euo pipefail
src=$1
work=$2
# pip needs PyPI (or its cache) for the build requirements: an offline machine (the GPU one)
# skips with the reason instead of failing on the network.
if ! python3 -c 'import urllib.request; urllib.request.urlopen("https://pypi.org/simple/nanobind/", timeout=10)' 2>/dev/null; then
  echo "packaging: skipped: https://pypi.org is not reachable (pip cannot fetch scikit-build-core / nanobind)"
  exit 77
fi
rm -rf "$work"
mkdir -p "$work"
python3 -m venv "$work/venv"
# ccache (when present) keeps the library's rebuild cheap across runs; the build folder is the
# test's own, so an installed wheel never comes from a stale tree.
if command -v ccache >/dev/null; then
  export CMAKE_ARGS="${CMAKE_ARGS:-} -DCMAKE_CXX_COMPILER_LAUNCHER=ccache"
  export CCACHE_BASEDIR=$src
fi
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}
"$work/venv/bin/pip" install --quiet --config-settings=build-dir="$work/build" "$src"
# `pip wheel .` over the same build folder (incremental): the wheel holds the module, its stubs
# and py.typed.
"$work/venv/bin/pip" wheel --quiet --no-deps --wheel-dir "$work/wheels" --config-settings=build-dir="$work/build" "$src"
cd "$work"   # away from the source tree, so `import attnjit` can only find the installed one
"$work/venv/bin/python" - "$src/README.md" "$work/wheels" <<'PY'
import pathlib, re, sys, zipfile
import attnjit
where = pathlib.Path(attnjit.__file__).parent
assert (where / "_attnjit.pyi").is_file() and (where / "py.typed").is_file(), "stubs missing from the install"
wheels = list(pathlib.Path(sys.argv[2]).glob("attnjit-*.whl"))
assert len(wheels) == 1, f"pip wheel made {wheels}"
names = zipfile.ZipFile(wheels[0]).namelist()
for want in ("attnjit/_attnjit.pyi", "attnjit/py.typed", "attnjit/__init__.py", "attnjit/torch.py"):
    assert want in names, f"{wheels[0].name}: {want} missing"
assert any(re.match(r"attnjit/_attnjit\..*\.so$", n) for n in names), f"{wheels[0].name}: no module"
# An isolated build has no torch, so no torch ops library: the ops keep their Python kernels.
assert "attnjit/_torch_ops.so" not in names, f"{wheels[0].name}: a torch ops library from a build without torch"
# The README's Python examples that need no torch (this venv has none), in order, one namespace.
text = pathlib.Path(sys.argv[1]).read_text()
blocks = re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)
assert blocks, "README has no python example"
ns, ran = {}, 0
for code in blocks:
    if re.search(r"\bimport torch\b", code):
        print("packaging: skipped a README example that needs torch (not installed in this venv)")
        continue
    exec(compile(code, "README.md", "exec"), ns)
    ran += 1
print("packaging: installed", attnjit.__version__, "from", where, "-", wheels[0].name, "built -", ran,
      "README example(s) ran")
PY
