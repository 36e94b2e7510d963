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
cd "$work"   # away from the source tree, so `import attnjit` can only find the installed one
"$work/venv/bin/python" - "$src/README.md" <<'PY'
import pathlib, re, sys
import attnjit
where = pathlib.Path(attnjit.__file__).parent
assert (where / "_attnjit.pyi").is_file() and (where / "py.typed").is_file(), "stubs missing from the wheel"
text = pathlib.Path(sys.argv[1]).read_text()
blocks = re.findall(r"```python\n(.*?)```", text, re.S)
assert blocks, "README has no python example"
exec(compile(blocks[0], "README.md", "exec"), {})
print("packaging: installed", attnjit.__version__, "from", where, "- README example ran")
PY
