# Helpers for the tests in this folder. They run under cluster.sh (SLURM_CONF and SLURM_TEST_DIR
# set) with ATTNJIT (the binary) and ATTNJIT_SOURCE_DIR (the checkout) in the environment.
# Every check that fails stops the test with a message; `pass` counts the ones that held.
set -euo pipefail
export LC_ALL=C  # sort, comm and Python's sorted() agree on order
trap 'exit 143' TERM  # so a test's EXIT trap (e.g. stopping its service) runs when cluster.sh stops it

ATTNJIT=${ATTNJIT:?set ATTNJIT to the attnjit binary}
SRC=${ATTNJIT_SOURCE_DIR:?set ATTNJIT_SOURCE_DIR to the checkout}
SCRIPT=$SRC/deploy/tune-array.slurm
HERE=$SRC/tests/slurm
export ATTNJIT
passed=0

pass() { passed=$((passed + 1)); echo "ok $passed - $*"; }
die() {
  echo "FAIL: $*" >&2
  echo "$passed passed, 1 failed"
  exit 1
}
expect_eq() {  # expect_eq ACTUAL EXPECTED WHAT
  [ "$1" = "$2" ] || die "$3: expected '$2', got '$1'"
  pass "$3"
}
finish_test() { echo "$passed passed, 0 failed"; }

now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$2"; }

# The settings every test's arrays share: the CPU backend, a tiny preset, a deterministic
# sample of 4 configs per problem (same rows on every run), short measurements, 1 core a task.
fleet_env() {
  export PRESET=ci-fleet BACKEND=cpu STRATEGY=random BUDGET=4
  export TUNE_ARGS="--measure-seconds 0.05 --threads 1 --quiet"
  export LOCAL_DIR=$SLURM_TEST_DIR/node-local
}
# sbatch options that replace the script's GPU defaults on this CPU-only node.
CPU_SBATCH=(--gres=none --cpus-per-task=1)

# One task's field from scontrol (JobState, ExitCode, Restarts, ...).
task_field() {  # task_field JOBID INDEX FIELD
  scontrol show job -o "$1_$2" | tr ' ' '\n' | sed -n "s/^$3=//p" | head -n 1
}

# Waits until no task of the array is pending or running.
wait_array() {  # wait_array JOBID TIMEOUT_S
  local t0=$SECONDS
  while [ -n "$(squeue -h -j "$1" -o %i 2>/dev/null)" ]; do
    if ((SECONDS - t0 > $2)); then
      squeue -j "$1" >&2
      tail -n 20 "$SLURM_TEST_DIR"/attnjit-tune-"$1"_*.log >&2 || true
      die "array $1 still running after $2 s"
    fi
    sleep 0.5
  done
}

# Waits until a command succeeds.
wait_until() {  # wait_until TIMEOUT_S WHAT COMMAND...
  local limit=$1 what=$2 t0=$SECONDS
  shift 2
  until "$@"; do
    ((SECONDS - t0 <= limit)) || die "timed out after $limit s waiting for: $what"
    sleep 0.2
  done
}

# Lines of a JSON Lines export (0 when the file is absent).
lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }

check_py() { python3 "$HERE/fleet_check.py" "$@"; }
