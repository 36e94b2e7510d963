#!/usr/bin/env bash
# deploy/tune-job.yaml: valid against the Kubernetes schema (kubernetes-validate, strict: an
# unknown field fails), and its pods tune the same problems per index as the Slurm array's
# tasks (k8s_shards.py runs the container's command as an Indexed Job would, dry run).
# Needs no cluster. The validator comes from PyPI into a venv that scripts/setup.sh creates.
source "$(dirname "$0")/lib.sh"
VENV=${ATTNJIT_K8S_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/attnjit-k8s-venv}
if [ ! -x "$VENV/bin/kubernetes-validate" ]; then
  echo "SKIP: $VENV/bin/kubernetes-validate not installed (scripts/setup.sh installs it from PyPI)"
  exit 77
fi
MANIFEST=$SRC/deploy/tune-job.yaml
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$VENV/bin/kubernetes-validate" --strict --kubernetes-version 1.33.0 "$MANIFEST" >"$work/v.log" 2>&1 ||
  die "kubernetes-validate rejected $MANIFEST: $(cat "$work/v.log")"
pass "tune-job.yaml is a valid batch/v1 Job (strict, Kubernetes 1.33)"
sed 's/backoffLimitPerIndex:/backoffLimitPerIndx:/' "$MANIFEST" >"$work/typo.yaml"
if "$VENV/bin/kubernetes-validate" --strict --kubernetes-version 1.33.0 "$work/typo.yaml" >/dev/null 2>&1; then
  die "the validator accepted a misspelt field"
fi
pass "the validator rejects a misspelt field"

# Pods of the Job (as written: 16 completions of llm-prefill) vs tasks of sbatch --array=0-15.
"$VENV/bin/python" "$HERE/k8s_shards.py" "$MANIFEST" "$SCRIPT" "$ATTNJIT" | sort >"$work/k8s.txt"
n=$("$VENV/bin/python" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["spec"]["completions"])' "$MANIFEST")
preset=$(grep -o 'name: PRESET, value: [a-z0-9-]*' "$MANIFEST" | awk '{print $NF}')
for ((i = 0; i < n; i++)); do
  SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_TASK_COUNT=$n PRESET=$preset DRY_RUN=1 bash "$SCRIPT" | sed "s/^/$i /"
done | sort >"$work/slurm.txt"
[ -s "$work/k8s.txt" ] || die "the Job's pods list no problems"
cmp -s "$work/k8s.txt" "$work/slurm.txt" || die "pod vs task problems differ: $(diff "$work/k8s.txt" "$work/slurm.txt" | head)"
pass "pod i of the Job and task i of the array tune the same problems ($n shards, $(wc -l <"$work/k8s.txt") problems)"
expect_eq "$(awk '{print $2}' "$work/k8s.txt" | sort)" "$("$ATTNJIT" tune --preset "$preset" --dry-run | sort)" \
  "the Job's pods cover $preset exactly once"

sed 's/name: SHARDS, value: "16"/name: SHARDS, value: "8"/' "$MANIFEST" >"$work/mismatch.yaml"
if "$VENV/bin/python" "$HERE/k8s_shards.py" "$work/mismatch.yaml" "$SCRIPT" "$ATTNJIT" >/dev/null 2>"$work/m.err"; then
  die "a Job whose SHARDS differs from completions was accepted"
fi
grep -q "spec.completions" "$work/m.err" || die "mismatch not named: $(cat "$work/m.err")"
pass "a Job whose SHARDS and completions disagree is rejected, naming the field"
finish_test
