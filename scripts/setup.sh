#!/usr/bin/env bash
# Installs the Debian packages attnjit builds against. Idempotent: does nothing when all are
# present. The CUDA toolkit is optional (NVRTC is opened at run time from /usr/local/cuda).
set -euo pipefail
pkgs=(
  build-essential cmake ninja-build pkg-config git python3
  libsqlite3-dev sqlite3            # tuning database
  nlohmann-json3-dev libcli11-dev libxxhash-dev
  libgtest-dev                      # tests
  llvm-14-dev libclang-cpp14-dev libclang-14-dev clang-14   # CPU backend (in-process JIT)
  libcpp-httplib-dev                # HTTP service
  wrk curl                          # load bench and examples
  ccache                            # cheap rebuilds (scripts/build.sh uses it when present)
  python3-venv python3-dev          # the Python package (python/)
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The Python package's build and test tools in a venv outside the clone, reused across runs and
# clones (torch is large: downloaded once per machine). Quick (~1 s) when everything is there.
pyenv=${ATTNJIT_PYENV:-$HOME/.cache/attnjit-pyenv}
py=/usr/bin/python3; [ -x "$py" ] || py=python3
[ -x "$pyenv/bin/python" ] || "$py" -m venv "$pyenv"
has() {  # has MODULE...: all findable in the venv (without importing: torch takes seconds)
  "$pyenv/bin/python" -c 'import importlib.util, sys; sys.exit(any(importlib.util.find_spec(m) is None for m in sys.argv[1:]))' "$@"
}
if ! has nanobind scikit_build_core numpy pytest; then
  echo "setup: installing nanobind, scikit-build-core, numpy, pytest into $pyenv"
  "$pyenv/bin/pip" install --quiet nanobind scikit-build-core numpy pytest
fi
if ! has torch; then
  echo "setup: installing torch into $pyenv (once per machine)"
  # Without torch the torch tests skip with the reason; everything else still runs.
  "$pyenv/bin/pip" install --quiet torch || echo "setup: WARNING: torch could not be installed" >&2
fi
