#!/usr/bin/env bash
# Results to the service (run by cluster.sh): an array of deploy/tune-array.slurm with
# ATTNJIT_SERVER set pushes each task's export to a running `attnjit serve` (bearer token). The
# service is stopped once the first results arrived and restarted once a task is retrying;
# afterwards the service holds exactly the shards' results: nothing lost, nothing stored twice.
source "$(dirname "$0")/lib.sh"
cd "$SLURM_TEST_DIR"
fleet_env
export OUT=$SLURM_TEST_DIR/shared

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export ATTNJIT_SERVER=http://127.0.0.1:$PORT ATTNJIT_TOKEN_FILE=$SLURM_TEST_DIR/token
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$ATTNJIT_TOKEN_FILE"
serve_pid=""
start_service() {
  "$ATTNJIT" serve --db service.db --port "$PORT" --token-file "$ATTNJIT_TOKEN_FILE" --no-tune \
    >>service.log 2>&1 &
  serve_pid=$!
  wait_until 30 "the service to answer" curl -sf "$ATTNJIT_SERVER/v1/health" -o /dev/null
}
stop_service() {
  kill -TERM "$serve_pid"
  wait "$serve_pid" || true
  serve_pid=""
}
trap '[ -z "$serve_pid" ] || { kill -TERM "$serve_pid"; wait "$serve_pid"; }' EXIT
stored_count() { "$ATTNJIT" query results --server "$ATTNJIT_SERVER" --limit 1000 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["results"]))'; }

# --- push on its own: a wrong token is refused at once (exit 2), a dead server gives up (exit 1)
start_service
echo "not-the-token-at-all-0123456789" >bad-token
printf '%s\n' '{"version": 1}' >probe.jsonl
rc=0; "$ATTNJIT" push --token-file bad-token probe.jsonl >/dev/null 2>push-bad.err || rc=$?
expect_eq "$rc" 2 "push with a wrong token: exit 2, no retry ($(head -c 80 push-bad.err))"
rc=0; "$ATTNJIT" push --server "http://127.0.0.1:1" --token-file "$ATTNJIT_TOKEN_FILE" --retry-seconds 1 probe.jsonl >/dev/null 2>push-dead.err || rc=$?
expect_eq "$rc" 1 "push to a server that stays down: exit 1 after retrying"
grep -q "retrying in" push-dead.err || die "push did not retry: $(cat push-dead.err)"
expect_eq "$(stored_count)" 0 "service stored nothing yet"

# --- the array; stop the service after its first results, restart it while a task retries
JOB=$(sbatch --parsable --array=0-3 "${CPU_SBATCH[@]}" "$SCRIPT")
has_results() { [ "$(stored_count)" -gt 0 ]; }
retrying() { grep -q 'attnjit push: .*retrying in' attnjit-tune-"$JOB"_*.log; }
wait_until 300 "the first results at the service" has_results
arrived=$(stored_count)
stop_service
pass "service stopped after $arrived results had arrived"
wait_until 300 "a task retrying its push" retrying
start_service
pass "service restarted while a task was retrying"
wait_array "$JOB" 600
for i in 0 1 2 3; do
  expect_eq "$(task_field "$JOB" $i JobState) $(task_field "$JOB" $i ExitCode)" "COMPLETED 0:0" "task $i completed"
done
grep -q "could not publish" attnjit-tune-"$JOB"_*.log && die "a task gave up publishing"
pass "no task gave up publishing"

# --- the service holds exactly the shards' results
stop_service
"$ATTNJIT" db export --db service.db --out service.jsonl 2>/dev/null
expect_eq "$(check_py stamps service.jsonl)" "$(check_py stamps "$OUT/$JOB"-shard-*.jsonl)" \
  "service results == the shards' exports (same rows, timestamps and times): nothing lost"
expect_eq "$(check_py rows service.jsonl | uniq -d)" "" "nothing stored twice"
expect_eq "$(check_py problems service.jsonl)" "$("$ATTNJIT" tune --preset ci-fleet --dry-run | sort)" \
  "every problem of the preset reached the service"
finish_test
