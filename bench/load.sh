#!/usr/bin/env bash
# Load benchmark of the service's hot reads (issue 14's bar: 64 concurrent keep-alive clients on
# loopback, 2 cores, default settings: /v1/best >= 20k req/s and /v1/results?limit=100 >= 5k
# req/s, p99 <= 5 ms, zero errors). Starts `attnjit serve` with its defaults on a loopback port
# and drives it with wrk from a second process; prints one Markdown table row per endpoint,
# with the machine, the commit and the load average before and after (the machine is shared:
# read the figures with that number next to them).
#
#   bench/load.sh                       # tunes the smoke preset into a temp DB first (CPU)
#   DB=tune.db PROBLEM=KEY DEVICE=FP|TARGET bench/load.sh
# Knobs (env): BUILD_DIR (build), PORT (18080), CONNECTIONS (64), WRK_THREADS (2),
#   DURATION (10s), ENDPOINTS ("best results health"), SERVE_ARGS (extra `serve` options).
# Without DB, the tuned rows are also re-imported under distinct config keys (the `_o<n>`
# order knob) so that /v1/results?limit=100 returns full 100-row pages.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
BIN=${ATTNJIT:-$BUILD_DIR/bin/attnjit}
PORT=${PORT:-18080}
CONNECTIONS=${CONNECTIONS:-64}
WRK_THREADS=${WRK_THREADS:-2}
DURATION=${DURATION:-10s}
ENDPOINTS=${ENDPOINTS:-best results health}
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
  echo "load.sh: tuning the smoke preset into $DB" >&2
  "$BIN" tune --preset smoke --db "$DB" >"$work/tune.log" 2>&1 || {
    echo "load.sh: attnjit tune failed (see below); serving an empty database (lookups answer 'default')" >&2
    tail -5 "$work/tune.log" >&2
  }
  "$BIN" db export --db "$DB" --out "$work/base.jsonl" 2>/dev/null
  for o in 11 12 13 14; do
    sed -E "s/\"config\":\"([^\"]*)_o[0-9]+\"/\"config\":\"\1\"/; s/\"config\":\"([^\"]*)\"/\"config\":\"\1_o$o\"/" "$work/base.jsonl"
  done >"$work/pad.jsonl"
  "$BIN" db import --db "$DB" "$work/pad.jsonl" >/dev/null
fi

# shellcheck disable=SC2086
"$BIN" serve --db "$DB" --host 127.0.0.1 --port "$PORT" --no-tune ${SERVE_ARGS:-} >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$PORT/v1/health" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$PORT/v1/health" >/dev/null || { cat "$work/serve.log" >&2; exit 1; }

# The /v1/best request: the first tuned (problem, device) unless given.
if [ -z "${PROBLEM:-}" ] || [ -z "${DEVICE:-}" ]; then
  row=$(curl -fsS "http://127.0.0.1:$PORT/v1/results?status=ok&limit=1")
  PROBLEM=${PROBLEM:-$(sed -n 's/.*"problem":"\([^"]*\)".*/\1/p' <<<"$row")}
  DEVICE=${DEVICE:-$(sed -n 's/.*"device":"\([^"]*\)".*/\1/p' <<<"$row")}
  PROBLEM=${PROBLEM:-prefill_f32_hd64_causal_g1_q128_k128}
  DEVICE=${DEVICE:-cpu-$(uname -m)}
fi
declare -A URLS=(
  [best]="/v1/best?problem=$PROBLEM&device=$DEVICE"
  [results]="/v1/results?limit=100"
  [health]="/v1/health"
)
rows=$(curl -fsS "http://127.0.0.1:$PORT/v1/results?limit=100" | grep -o '"id":' | wc -l)

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet 2>/dev/null || commit="$commit+dirty"
cpu=$(sed -n 's/^model name\s*:\s*//p' /proc/cpuinfo | head -1)
echo "load.sh: $(head -1 "$work/serve.log")"
echo "load.sh: machine: $cpu, $(nproc) cores; commit $commit; $(date -u +%FT%TZ)"
echo "load.sh: wrk -t$WRK_THREADS -c$CONNECTIONS -d$DURATION --latency (keep-alive), /v1/results pages of $rows rows"
echo "load.sh: load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| endpoint | req/s | p50 | p99 | errors | load avg (1 min) |"
echo "| --- | --- | --- | --- | --- | --- |"
for e in $ENDPOINTS; do
  url="http://127.0.0.1:$PORT${URLS[$e]}"
  wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$url" >"$work/wrk-$e.txt"
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk-$e.txt")
  p50=$(awk '$1 == "50%" {print $2}' "$work/wrk-$e.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$work/wrk-$e.txt")
  # wrk prints these lines only when there were errors.
  errors=$(grep -E "Socket errors|Non-2xx" "$work/wrk-$e.txt" | tr -s ' ' | paste -sd ';' - || true)
  echo "| \`${URLS[$e]}\` | $rps | $p50 | $p99 | ${errors:-0} | $(cut -d' ' -f1 /proc/loadavg) |"
done
echo
echo "load.sh: load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
curl -fsS "http://127.0.0.1:$PORT/metrics" | grep -E '^attnjit_http_requests_total\{route="/v1/(best|results)"' || true
