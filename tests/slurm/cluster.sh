#!/usr/bin/env bash
# A one-node Slurm cluster for a test: `cluster.sh COMMAND [ARGS...]` starts munged, slurmctld and
# slurmd as this script's own processes (all files in a fresh folder, free TCP ports, nothing
# read from /etc), waits until the node is idle, runs COMMAND with SLURM_CONF pointing at the
# cluster, SLURM_TEST_DIR at a scratch folder and SLURM_TEST_JOBCOMP at the job-completion
# log, then stops every job and daemon it started, whatever the outcome, and exits with
# COMMAND's status.
#
# Settings chosen so it runs inside a container as root: no cgroups (proctrack/linuxproc,
# task/none, no accounting gatherer), no GPU gres, and the node's CPU count taken from the
# config (SlurmdParameters=config_overrides) so 4 array tasks run at once on 2 cores.
# If the Slurm or munge packages are missing (scripts/setup.sh installs them), or it is not root,
# it prints why and exits 77, which ctest reports as skipped (SKIP_RETURN_CODE).
set -euo pipefail

for bin in munged slurmctld slurmd sbatch squeue scontrol scancel sinfo; do
  if ! command -v "$bin" >/dev/null; then
    echo "cluster.sh: SKIP: '$bin' not found (install slurmctld slurmd slurm-client munge: scripts/setup.sh)"
    exit 77
  fi
done
if [ "$(id -u)" != 0 ]; then
  echo "cluster.sh: SKIP: slurmd launches jobs as their user, so the test cluster needs root"
  exit 77
fi
(($#)) || { echo "usage: cluster.sh COMMAND [ARGS...]" >&2; exit 2; }

DIR=$(mktemp -d "${TMPDIR:-/tmp}/attnjit-slurm.XXXXXX")
NODE=localhost
pids=()

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

dump_logs() {
  for f in "$DIR"/munged.log "$DIR"/slurmctld.log "$DIR"/slurmd.log; do
    [ -f "$f" ] && { echo "---- $f (last 40 lines)"; tail -n 40 "$f"; }
  done
}

# The job steps' supervisors (slurmstepd) outlive slurmd by design; any still running after
# scancel are ours when they hold a file in our spool folder.
kill_our_stepds() {
  local p stepd
  stepd=$(command -v slurmstepd || echo /usr/sbin/slurmstepd)
  for p in /proc/[0-9]*; do
    [[ "$p/exe" -ef "$stepd" ]] || continue  # a builtin test: no process per pid
    if ls -l "$p/fd" 2>/dev/null | grep -q "$DIR/"; then kill -KILL "${p#/proc/}" 2>/dev/null || true; fi
  done
}

teardown() {
  local rc=$?
  set +e
  if [ -n "${cmd_pid:-}" ]; then
    kill -TERM -- -"$cmd_pid" 2>/dev/null
    wait "$cmd_pid" 2>/dev/null
  fi
  if [ -n "${SLURM_CONF:-}" ] && [ -f "$SLURM_CONF" ]; then
    scancel --quiet --user="$(id -un)" >/dev/null 2>&1
    for _ in $(seq 1 60); do
      [ -z "$(squeue -h -o %A 2>/dev/null)" ] && break
      sleep 0.5
    done
  fi
  kill_our_stepds
  # Newest first: slurmd, slurmctld, munged (each by its own pid, started below).
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null; done
  for p in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  if [ "$rc" != 0 ] && [ "${KEEP_SLURM_LOGS:-0}" = 0 ]; then dump_logs; fi
  if [ "${KEEP_SLURM_DIR:-0}" = 1 ]; then echo "cluster.sh: kept $DIR"; else rm -rf "$DIR"; fi
  exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$DIR"/{state,spool,munge,work}
chmod 755 "$DIR/munge"  # munged wants the socket folder reachable; the key itself is 0400

# munge: a fresh key for this cluster only.
head -c 1024 /dev/urandom >"$DIR/munge/munge.key"
chmod 400 "$DIR/munge/munge.key"
MUNGE_SOCKET=$DIR/munge/munge.socket
munged --foreground --force --socket="$MUNGE_SOCKET" --key-file="$DIR/munge/munge.key" \
  --pid-file="$DIR/munge/munged.pid" --seed-file="$DIR/munge/munged.seed" \
  --log-file="$DIR/munged.log" >>"$DIR/munged.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -S "$MUNGE_SOCKET" ] && break; sleep 0.1; done
[ -S "$MUNGE_SOCKET" ] || { echo "cluster.sh: munged did not start" >&2; exit 1; }

CTLD_PORT=$(free_port)
SLURMD_PORT=$(free_port)
export SLURM_CONF=$DIR/slurm.conf
cat >"$SLURM_CONF" <<EOF
ClusterName=attnjit-ci
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire: also how long a requeued job waits before it may start again (default 120 s).
AuthInfo=socket=$MUNGE_SOCKET,cred_expire=10
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups inside a container.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
# A completion record per job (state, exit code): how a failed task is reported without slurmdbd.
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/jobcomp.log
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
# Re-evaluate pending jobs every second (a requeued task waits for its BeginTime otherwise 60 s).
SchedulerParameters=sched_interval=1,bf_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
JobRequeue=1
# SIGTERM, then this many seconds for the job script's trap to export, then SIGKILL.
KillWait=15
# Keep finished jobs visible to scontrol while the test inspects them.
MinJobAge=3600
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=4 RealMemory=4096 State=UNKNOWN
PartitionName=ci Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF

slurmctld -D -c -f "$SLURM_CONF" >>"$DIR/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -N "$NODE" -f "$SLURM_CONF" >>"$DIR/slurmd.out" 2>&1 &
pids+=($!)

state=""
for _ in $(seq 1 120); do
  state=$(sinfo -h -N -n "$NODE" -o %T 2>/dev/null || true)
  [ "$state" = idle ] && break
  for p in "${pids[@]}"; do
    kill -0 "$p" 2>/dev/null || { echo "cluster.sh: a daemon exited during start-up (pid $p)" >&2; exit 1; }
  done
  sleep 0.5
done
[ "$state" = idle ] || { echo "cluster.sh: node $NODE not idle after 60 s (state '$state')" >&2; exit 1; }
echo "cluster.sh: slurm $(sinfo -V | awk '{print $2}') up in $DIR (node $NODE idle, ctld port $CTLD_PORT)"

export SLURM_TEST_DIR=$DIR/work SLURM_TEST_JOBCOMP=$DIR/jobcomp.log
# In the background and its own process group (set -m), so a TERM or INT to this script tears
# down at once and stops COMMAND with everything it started.
set +e
set -m
"$@" &
cmd_pid=$!
set +m
wait "$cmd_pid"
rc=$?
cmd_pid=""
set -e
exit "$rc"
