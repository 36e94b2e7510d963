#!/usr/bin/env bash
# The faults a cluster produces, on a real array of deploy/tune-array.slurm (run by cluster.sh).
# Three tasks over the 8-problem preset (3, 3 and 2 problems); once each has exported its first
# problem (tasks 0 and 1: half-way through a later one, some candidates stored, not exported):
#   task 0 is requeued (scontrol requeue): it resumes from its export, re-measures nothing it had
#          stored, loses nothing and completes;
#   task 1 is cancelled (scancel): what it stored is in its export, which imports cleanly;
#   task 2's tuner is killed (kill -9, as the OOM killer would): the task goes on with its other
#          problems, exports, and exits 1 — FAILED in scontrol and in the job-completion log, the
#          problem named in its log; `scontrol requeue` of the failed task then finishes it.
source "$(dirname "$0")/lib.sh"
cd "$SLURM_TEST_DIR"
fleet_env
# Longer measurements than the other tests: a window of seconds in which a problem is half measured.
export TUNE_ARGS="--measure-seconds 1 --threads 1 --quiet"
export OUT=$SLURM_TEST_DIR/shared
N=3

JOB=$(sbatch --parsable --array=0-2 "${CPU_SBATCH[@]}" "$SCRIPT")
export_of() { echo "$OUT/$JOB-shard-$1-of-$N.jsonl"; }
has_first_problem() { [ "$(lines "$(export_of "$1")")" -gt 0 ]; }
ended() { case "$(task_field "$JOB" "$1" JobState)" in PENDING | CONFIGURING | RUNNING) return 1 ;; esac; }
# Mid-problem: the task's node-local database holds more results than its export (part of a
# problem after its first). Cheap enough to poll: one `db stats`.
partial_problem() {
  local e n
  e=$(lines "$(export_of "$1")")
  ((e > 0)) || return 1
  n=$("$ATTNJIT" db stats --db "$LOCAL_DIR/attnjit-$JOB-shard-$1.db" 2>/dev/null | sed -n 's/^  "results": \([0-9]*\),$/\1/p')
  [ -n "$n" ] && ((n > e))
}
# What a task had stored: its node-local database, exported.
snapshot() { "$ATTNJIT" db export --db "$LOCAL_DIR/attnjit-$JOB-shard-$1.db" --out "before-$1.jsonl" 2>/dev/null; }

# task 2's running `attnjit tune --problem` (among the task's own pids, from scontrol listpids).
tuner_of_task2() {
  local jid pid
  jid=$(squeue -h -j "${JOB}_2" -o %A)
  for pid in $(scontrol listpids "$jid" 2>/dev/null | awk 'NR > 1 {print $1}'); do
    if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "tune --problem"; then echo "$pid"; return; fi
  done
}

# Tasks 0 and 1: the fault lands half-way through a problem (some candidates stored, not yet
# exported); task 2: once it has exported its first problem, while its tuner runs.
declare -A done_fault=()
t0=$SECONDS
while ((${#done_fault[@]} < 3)); do
  ((SECONDS - t0 < 300)) || die "faults not injected within 300 s (done: ${!done_fault[*]})"
  for i in 0 1 2; do
    [ -z "${done_fault[$i]:-}" ] || continue
    if [ $i = 2 ]; then
      has_first_problem 2 || continue
      tuner_pid=$(tuner_of_task2)
      if [ -z "$tuner_pid" ]; then
        ! ended 2 || die "task 2 finished before its fault could be injected"
        continue  # between two problems: try again
      fi
      killed_problem=$(tr '\0' '\n' <"/proc/$tuner_pid/cmdline" | sed -n '/^--problem$/{n;p}')
      jid2=$(squeue -h -j "${JOB}_2" -o %A)
      snapshot 2
      kill -KILL "$tuner_pid" || die "task 2's tuner $tuner_pid exited before it could be killed"
    else
      if ! partial_problem $i; then
        ! ended $i || die "task $i finished before it was caught half-way through a problem"
        continue
      fi
      snapshot $i
      if [ $i = 0 ]; then scontrol requeue "${JOB}_0"; else scancel "${JOB}_1"; fi
    fi
    done_fault[$i]=1
  done
  sleep 0.1
done
pass "faults injected mid-run: requeue task 0, scancel task 1, kill -9 task 2's tuner ($killed_problem)"

wait_array "$JOB" 600

# --- requeue: completed after one restart, nothing re-measured or lost
expect_eq "$(task_field "$JOB" 0 JobState) $(task_field "$JOB" 0 Restarts)" "COMPLETED 1" "task 0 completed after 1 requeue"
log0=attnjit-tune-${JOB}_0.log
grep -q "SIGTERM" "$log0" || die "task 0 log has no SIGTERM export: $(cat "$log0")"
grep -q "restart 1: resumed from" "$log0" || die "task 0 log has no resume: $(cat "$log0")"
pass "task 0 exported on SIGTERM and resumed from its export (log appended across restarts)"
missing=$(comm -23 <(check_py stamps before-0.jsonl) <(check_py stamps "$(export_of 0)"))
expect_eq "$missing" "" "task 0: every result stored before the requeue (half a problem too) is in the final export, same timestamp and time (not re-measured)"
expect_eq "$(check_py problems "$(export_of 0)")" "$("$ATTNJIT" tune --preset ci-fleet --shard 0/$N --dry-run | sort)" \
  "task 0: all its problems tuned"
expect_eq "$(check_py rows "$(export_of 0)" | uniq -d)" "" "task 0: no result stored twice"

# --- scancel: cancelled, its export imports and holds what was stored before
expect_eq "$(task_field "$JOB" 1 JobState)" CANCELLED "task 1 cancelled"
grep -q "SIGTERM" "attnjit-tune-${JOB}_1.log" || die "task 1 did not export on SIGTERM: $(cat "attnjit-tune-${JOB}_1.log")"
"$ATTNJIT" db import --db cancelled.db "$(export_of 1)" >/dev/null || die "task 1's export does not import"
missing=$(comm -23 <(check_py stamps before-1.jsonl) <(check_py stamps "$(export_of 1)"))
expect_eq "$missing" "" "task 1: its export after scancel imports and holds everything stored before"

# --- failure: FAILED, reported, partial results importable; then requeued to completion
expect_eq "$(task_field "$JOB" 2 JobState) $(task_field "$JOB" 2 ExitCode)" "FAILED 1:0" "task 2 failed with exit 1"
log2=attnjit-tune-${JOB}_2.log
grep -q "FAILED: 1 of 2: $killed_problem" "$log2" || die "task 2 log does not name the failed problem: $(cat "$log2")"
grep -q "JobId=$jid2 .*JobState=FAILED" "$SLURM_TEST_JOBCOMP" ||
  die "job-completion log has no FAILED record for task 2: $(cat "$SLURM_TEST_JOBCOMP")"
pass "task 2 reported: its log names $killed_problem, the job-completion log says FAILED"
cp "$(export_of 2)" failed-2.jsonl
"$ATTNJIT" db import --db failed.db failed-2.jsonl >/dev/null || die "task 2's partial export does not import"
missing=$(comm -23 <(check_py stamps before-2.jsonl) <(check_py stamps failed-2.jsonl))
expect_eq "$missing" "" "task 2: its partial export imports and holds everything stored before the crash"
[ "$(check_py problems failed-2.jsonl | grep -vc "^$killed_problem\$")" -ge 1 ] || die "task 2 lost its other problem"
pass "task 2: the problem that did not crash is in its export"

scontrol requeue "${JOB}_2"
restarted() { [ "$(task_field "$JOB" 2 Restarts)" = 1 ]; }
wait_until 60 "task 2 to restart" restarted
wait_array "$JOB" 300
expect_eq "$(task_field "$JOB" 2 JobState) $(task_field "$JOB" 2 ExitCode)" "COMPLETED 0:0" "task 2 completed after scontrol requeue"
missing=$(comm -23 <(check_py stamps failed-2.jsonl) <(check_py stamps "$(export_of 2)"))
expect_eq "$missing" "" "task 2: nothing stored before the failure was re-measured or lost"
expect_eq "$(check_py problems "$(export_of 2)")" "$("$ATTNJIT" tune --preset ci-fleet --shard 2/$N --dry-run | sort)" \
  "task 2: all its problems tuned"
expect_eq "$(find "$OUT" -name '*.tmp' -o -name '*.db*' | wc -l)" 0 "no temp file or SQLite file in the shared folder"
finish_test
