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
  python3-pip                       # cuobjdump for the SASS gates (below)
  slurmctld slurmd slurm-client munge   # fleet tests: a one-node Slurm cluster (tests/slurm)
  python3-venv python3-dev          # the Python package (python/) and the tools' venvs below
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
# SASS inspection for the compile gates (tests/gates): cuobjdump + nvdisasm from PyPI into a
# --target folder (Debian's pip refuses system-wide installs). Optional: the SASS gates skip
# with a printed reason where this cannot be installed.
tools="$HOME/.cache/attnjit-cuda-tools"
if [ ! -x "$tools/nvidia/cu13/bin/cuobjdump" ] || [ ! -x "$tools/nvidia/cu13/bin/nvdisasm" ]; then
  echo "setup: installing nvidia-cuda-cuobjdump and nvidia-cuda-nvdisasm into $tools"
  # pip from a venv: a distribution's own pip may refuse even --target installs (PEP 668).
  { [ -x "$tools-venv/bin/pip" ] || python3 -m venv "$tools-venv"; } &&
    "$tools-venv/bin/pip" install -q --upgrade --target "$tools" nvidia-cuda-cuobjdump nvidia-cuda-nvdisasm ||
    echo "setup: warning: cuobjdump not installed; SASS gates will be skipped"
fi
# The Kubernetes manifest's schema validator (tests/slurm/k8s_job_test.sh), from PyPI into a venv.
venv=${XDG_CACHE_HOME:-$HOME/.cache}/attnjit-k8s-venv
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
  echo "setup: installing kubernetes-validate into $venv"
  python3 -m venv "$venv" && "$venv/bin/pip" install -q kubernetes-validate==1.37.0 ||
    echo "setup: kubernetes-validate not installed (tests/slurm/k8s_job_test.sh will skip)" >&2
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
