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
  slurmctld slurmd slurm-client munge python3-venv   # fleet tests: a one-node Slurm cluster (tests/slurm)
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
# The Kubernetes manifest's schema validator (tests/slurm/k8s_job_test.sh), from PyPI into a venv.
venv=${XDG_CACHE_HOME:-$HOME/.cache}/attnjit-k8s-venv
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
  echo "setup: installing kubernetes-validate into $venv"
  python3 -m venv "$venv" && "$venv/bin/pip" install -q kubernetes-validate==1.37.0 ||
    echo "setup: kubernetes-validate not installed (tests/slurm/k8s_job_test.sh will skip)" >&2
fi
