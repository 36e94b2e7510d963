#!/usr/bin/env bash
# sbatch --array=0-3 of the real deploy/tune-array.slurm on the CPU backend (run by cluster.sh):
# every problem of the preset is tuned by exactly one task; the merged shard exports hold the
# same (problem, config, status) rows as one `attnjit tune` of the whole preset on this machine;
# the best configs agree up to the measured spread; importing twice changes nothing; the
# SQLite files stay on node-local disk; a second array into the same folder overwrites nothing.
source "$(dirname "$0")/lib.sh"
cd "$SLURM_TEST_DIR"
fleet_env
export OUT=$SLURM_TEST_DIR/shared
N=4

# --- the array, as an operator runs it (README, "Fleet tuning")
t0=$(now)
JOB=$(sbatch --parsable --array=0-3 "${CPU_SBATCH[@]}" "$SCRIPT")
wait_array "$JOB" 600
t_array=$(elapsed "$t0" "$(now)")
for i in 0 1 2 3; do
  expect_eq "$(task_field "$JOB" $i JobState) $(task_field "$JOB" $i ExitCode)" "COMPLETED 0:0" "task $i completed"
  grep -q "done: 2 problems" "attnjit-tune-${JOB}_$i.log" || die "task $i log: $(cat "attnjit-tune-${JOB}_$i.log")"
done
pass "each task's log (named by job id) reports its 2 problems done"

# --- shared folder: one export per task named by the array's job id; no SQLite file, no temp
shards=()
for i in 0 1 2 3; do shards+=("$OUT/$JOB-shard-$i-of-$N.jsonl"); done
expect_eq "$(cd "$OUT" && ls | sort | tr '\n' ' ')" \
  "$(for i in 0 1 2 3; do echo "$JOB-shard-$i-of-$N.jsonl"; done | sort | tr '\n' ' ')" "shared folder holds exactly the 4 exports"
expect_eq "$(ls -A "$LOCAL_DIR")" "" "node-local SQLite files and caches removed after a successful export"

# --- coverage: task i tuned exactly shard i/4, and the shards together are the preset once
for i in 0 1 2 3; do
  expect_eq "$(check_py problems "${shards[i]}")" "$("$ATTNJIT" tune --preset ci-fleet --shard $i/$N --dry-run | sort)" \
    "task $i tuned exactly shard $i/$N"
done
expect_eq "$(for f in "${shards[@]}"; do check_py problems "$f"; done | sort | uniq -d)" "" "no problem tuned by two tasks"
expect_eq "$(check_py problems "${shards[@]}")" "$("$ATTNJIT" tune --preset ci-fleet --dry-run | sort)" \
  "every problem of the preset tuned"

# --- merge, twice
"$ATTNJIT" db import --db merged.db "${shards[@]}" >import1.json
"$ATTNJIT" db stats --db merged.db >stats1.json
"$ATTNJIT" db import --db merged.db "${shards[@]}" >import2.json
"$ATTNJIT" db stats --db merged.db >stats2.json
expect_eq "$(python3 -c 'import json,sys; print(sum(f["stored"] for f in json.load(open(sys.argv[1]))["imported"]))' import2.json)" 0 \
  "second import stores nothing"
cmp -s stats1.json stats2.json || die "db stats changed by the second import: $(diff stats1.json stats2.json)"
pass "second import leaves db stats unchanged"

# --- the single-machine run of the whole preset, same options (all cores for compiling)
t1=$(now)
"$ATTNJIT" tune --preset ci-fleet --backend cpu --strategy random --budget 4 --measure-seconds 0.05 --quiet \
  --db single.db --jsonl-out single.jsonl >single.log 2>&1 || die "single-machine tune failed: $(tail single.log)"
t_single=$(elapsed "$t1" "$(now)")
"$ATTNJIT" db export --db merged.db --out merged.jsonl 2>/dev/null
check_py rows merged.jsonl >merged.rows
check_py rows single.jsonl >single.rows
cmp -s merged.rows single.rows || die "merged shards and single run differ in (problem, config, status): $(diff merged.rows single.rows)"
pass "merged shards == single run: $(wc -l <single.rows) (problem, config, status) rows"
check_py best merged.db single.db merged.jsonl single.jsonl || die "a best config differs beyond the measured spread"
pass "best configs agree within the measured spread"

# --- a second array with the same output folder: its own files, the first array's untouched
before=$(cd "$OUT" && sha256sum "${shards[@]##*/}")
JOB2=$(PRESET=smoke sbatch --parsable --array=0-1 "${CPU_SBATCH[@]}" "$SCRIPT")
wait_array "$JOB2" 300
[ "$JOB2" != "$JOB" ] || die "sbatch returned the same job id twice"
expect_eq "$(cd "$OUT" && sha256sum "${shards[@]##*/}")" "$before" "first array's exports unchanged by the second array"
expect_eq "$(check_py problems "$OUT/$JOB2-shard-0-of-2.jsonl" "$OUT/$JOB2-shard-1-of-2.jsonl")" \
  "$("$ATTNJIT" tune --preset smoke --dry-run | sort)" "second array's exports are its own, named by its job id"

# --- the README's fleet section shows these same commands
for cmd in "BACKEND=$BACKEND PRESET=$PRESET STRATEGY=$STRATEGY BUDGET=$BUDGET" \
  "sbatch --array=0-3 ${CPU_SBATCH[*]} deploy/tune-array.slurm" \
  "attnjit db import --db h100.db attnjit-tune/<jobid>-shard-*.jsonl" \
  "scontrol requeue <jobid>_<i>" "scancel <jobid>_<i>"; do
  grep -qF -- "$cmd" "$SRC/README.md" || die "README.md does not show: $cmd"
done
pass "README's fleet section shows the commands these tests run"

echo "wall time: array of $N tasks (2 cores) ${t_array} s, single-machine run ${t_single} s" \
  "($(wc -l <single.rows) results, preset ci-fleet)"
finish_test
