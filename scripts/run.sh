#!/usr/bin/env bash
# The README's first command: set up, build, pre-tune a small problem set on the best backend
# this machine has (a GPU when `attnjit info` finds one with NVRTC, else the CPU) into an SQLite
# file, then serve it on 127.0.0.1:${PORT:-8080} and print example requests. Ctrl-C stops the
# server gracefully.
#
# Env: PORT (8080), HOST (127.0.0.1), DB (attnjit-run.db), PRESET (smoke on CPU, llm-prefill
# budgeted on GPU), BUDGET (GPU: candidates per problem, 16), BUILD_DIR (build), SKIP_TUNE=1.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-8080}
HOST=${HOST:-127.0.0.1}
DB=${DB:-attnjit-run.db}
BUILD_DIR=${BUILD_DIR:-build}
export BUILD_DIR
BIN=$BUILD_DIR/bin/attnjit

scripts/setup.sh
scripts/build.sh

backend=$("$BIN" info --json | sed -n 's/.*"best_backend": *"\([a-z]*\)".*/\1/p')
case "$backend" in
  cuda) preset=${PRESET:-llm-prefill}; budget=(--budget "${BUDGET:-16}"); backend_flag=gpu ;;
  cpu)  preset=${PRESET:-smoke}; budget=(); backend_flag=cpu ;;
  *)    echo "run.sh: attnjit info found no usable backend:" >&2; "$BIN" info >&2; exit 1 ;;
esac
echo "run.sh: best backend here: $backend"

if [ "${SKIP_TUNE:-0}" != 1 ]; then
  echo "run.sh: pre-tuning preset '$preset' on $backend into $DB"
  "$BIN" tune --preset "$preset" --backend "$backend_flag" --db "$DB" "${budget[@]}"
fi

# Writes (POST /v1/results, /v1/tune) need this token; kept beside the database, owner-only.
TOKEN_FILE=${TOKEN_FILE:-$DB.token}
if [ ! -s "$TOKEN_FILE" ]; then
  (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TOKEN_FILE")
fi

# An example request for the first tuned problem on this machine.
problem=$("$BIN" tune --preset "$preset" --dry-run 2>/dev/null | head -1 || true)
problem=${problem:-prefill_f32_hd64_causal_g1_q128_k128}
if [ "$backend" = cuda ]; then
  arch=$("$BIN" info --json | sed -n 's/.*"arch": *"\([^"]*\)".*/\1/p' | head -1)
else
  arch=$("$BIN" info --json | sed -n 's/.*"target": *"\(cpu-[^"]*\)".*/\1/p' | head -1)
fi
base="http://$HOST:$PORT"
cat <<MSG

run.sh: serving $DB on $base  (Ctrl-C stops it)
  curl -s '$base/v1/health'
  curl -s '$base/v1/devices'
  curl -s '$base/v1/best?problem=$problem&device=$arch'
  curl -s '$base/v1/kernel?problem=$problem&arch=${arch}'
  curl -s '$base/v1/results?problem=$problem&status=ok&limit=5'
  curl -s -X POST -H "Authorization: Bearer \$(cat $TOKEN_FILE)" -d '{"problems": ["$problem"]}' '$base/v1/tune'
  curl -s '$base/v1/jobs/<id from the line above>'
  curl -s '$base/metrics'
  $BIN query best --server $base --problem $problem --arch $arch

MSG
exec "$BIN" serve --db "$DB" --host "$HOST" --port "$PORT" --token-file "$TOKEN_FILE"
