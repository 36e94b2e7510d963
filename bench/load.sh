#!/usr/bin/env bash
# Load test of GET /v1/best: starts `attnjit serve` on a loopback port and drives it with wrk
# from a second process. Prints requests/s and latency percentiles (wrk --latency).
#
#   bench/load.sh                      # tunes the smoke preset into a temp DB first (CPU)
#   DB=tune.db PROBLEM=KEY DEVICE=FP|TARGET bench/load.sh
# Knobs (env): BUILD_DIR (build), PORT (18080), THREADS server threads (32),
#   CONNECTIONS wrk connections (32), WRK_THREADS (1), DURATION (10s).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
BIN=${ATTNJIT:-$BUILD_DIR/bin/attnjit}
PORT=${PORT:-18080}
THREADS=${THREADS:-32}
CONNECTIONS=${CONNECTIONS:-32}
WRK_THREADS=${WRK_THREADS:-1}
DURATION=${DURATION:-10s}
command -v wrk >/dev/null || { echo "load.sh: wrk not installed (scripts/setup.sh installs it)" >&2; exit 1; }
[ -x "$BIN" ] || { echo "load.sh: $BIN not built (scripts/build.sh)" >&2; exit 1; }

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ -z "${DB:-}" ]; then
  DB=$work/tune.db
  echo "load.sh: tuning the smoke preset into $DB"
  "$BIN" tune --preset smoke --db "$DB" >"$work/tune.log" 2>&1 || {
    echo "load.sh: attnjit tune failed (see below); serving an empty database (lookups answer 'default')" >&2
    tail -5 "$work/tune.log" >&2
  }
fi

"$BIN" serve --db "$DB" --host 127.0.0.1 --port "$PORT" --threads "$THREADS" --no-tune >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$PORT/v1/health" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$PORT/v1/health" >/dev/null || { cat "$work/serve.log" >&2; exit 1; }

# The request: the first tuned (problem, device) unless given.
if [ -z "${PROBLEM:-}" ] || [ -z "${DEVICE:-}" ]; then
  row=$(curl -fsS "http://127.0.0.1:$PORT/v1/results?status=ok&limit=1")
  PROBLEM=${PROBLEM:-$(sed -n 's/.*"problem":"\([^"]*\)".*/\1/p' <<<"$row")}
  DEVICE=${DEVICE:-$(sed -n 's/.*"device":"\([^"]*\)".*/\1/p' <<<"$row")}
  PROBLEM=${PROBLEM:-prefill_f32_hd64_causal_g1_q128_k128}
  DEVICE=${DEVICE:-cpu-$(uname -m)}
fi
URL="http://127.0.0.1:$PORT/v1/best?problem=$PROBLEM&device=$DEVICE"
echo "load.sh: $(curl -fsS "$URL")"
echo "load.sh: wrk -t$WRK_THREADS -c$CONNECTIONS -d$DURATION against $THREADS server threads on $(nproc) cores"
wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$URL" | tee "$work/wrk.txt"
rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
p99=$(awk '$1 == "99%" {print $2}' "$work/wrk.txt")
errors=$(awk '/Non-2xx|Socket errors/' "$work/wrk.txt")
echo "load.sh: RESULT requests/s=$rps p99=$p99 ${errors:+errors: $errors}"
curl -fsS "http://127.0.0.1:$PORT/metrics" | grep -E '^attnjit_http_requests_total\{route="/v1/best"' || true
