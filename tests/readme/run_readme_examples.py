#!/usr/bin/env python3
"""Runs every shell example of README.md against a real `attnjit serve`.

The convention (documented at the top of README.md):
  - command examples are fenced ```sh (or bash / shell); each block runs as one bash script
    with `set -eo pipefail`, in order, in one scratch directory;
  - a mark after the language skips a block that cannot run here and counts it:
      ```sh skip=gpu       needs a GPU
      ```sh skip=cluster   needs Slurm, Kubernetes or several machines
      ```sh skip=forever   serves until stopped
      ```sh skip=setup     installs packages / builds the tree (scripts/)
    and ```sh needs=nvrtc runs only where NVRTC can be opened (else it is skipped and counted);
  - unlabelled fences are for things that are not commands (keys, output); one whose first
    line looks like a command is an error, so a new example cannot escape the test.
Placeholders are filled in by this runner: http://tuner:8080, tuner.internal:8080,
127.0.0.1:8080 and localhost:8080 point at the test server ($ATTNJIT_SERVER too), the file
`token` holds its write token (ATTNJIT_TOKEN=... becomes it), `job-…` is the id and
`<next_cursor>` the cursor of the latest reply that had one. Files that a skipped block
would have made (h100.jsonl, out/shard-*.jsonl) are stand-ins exported from the database the
examples tuned. Every reply that is a JSON error fails the block, and every tuning job the
examples started must end `succeeded`.

Usage: run_readme_examples.py --attnjit BUILD/bin/attnjit --readme README.md [--keep]
"""
import argparse
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

SHELL_LANGS = {"sh", "bash", "shell"}
SKIP_REASONS = {"gpu", "cluster", "forever", "setup"}
NEEDS = {"nvrtc"}
COMMAND_START = re.compile(r"^\s*(\$ )?(attnjit|curl|scripts/|\./|for |export |sbatch|kubectl|python|pip |cmake|ctest)")


class Block:
    def __init__(self, line, lang, marks, text):
        self.line, self.lang, self.marks, self.text = line, lang, marks, text

    def mark(self, key):
        return self.marks.get(key)


def extract_blocks(markdown):
    """Every fenced block: (line of the fence, language, marks, body)."""
    blocks, errors = [], []
    lines = markdown.split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)```(.*)$", lines[i])
        if not m:
            i += 1
            continue
        info = m.group(2).split()
        start = i + 1
        j = start
        while j < len(lines) and not re.match(r"^\s*```\s*$", lines[j]):
            j += 1
        if j == len(lines):
            errors.append(f"README.md:{i + 1}: fence never closed")
            break
        lang = info[0] if info else ""
        marks = {}
        for word in info[1:]:
            k, _, v = word.partition("=")
            marks[k] = v
        blocks.append(Block(i + 1, lang, marks, "\n".join(lines[start:j])))
        i = j + 1
    return blocks, errors


def check_blocks(blocks):
    errors = []
    for b in blocks:
        if b.lang in SHELL_LANGS:
            for k, v in b.marks.items():
                if k == "skip" and v not in SKIP_REASONS:
                    errors.append(f"README.md:{b.line}: skip={v}: reasons are {', '.join(sorted(SKIP_REASONS))}")
                elif k == "needs" and v not in NEEDS:
                    errors.append(f"README.md:{b.line}: needs={v}: known needs are {', '.join(sorted(NEEDS))}")
                elif k not in ("skip", "needs"):
                    errors.append(f"README.md:{b.line}: unknown mark '{k}' (use skip=REASON or needs=WHAT)")
        elif b.lang == "":
            first = next((l for l in b.text.split("\n") if l.strip()), "")
            if COMMAND_START.match(first):
                errors.append(f"README.md:{b.line}: a command example in an unlabelled fence; "
                              "fence it ```sh (with a skip= mark if it cannot run in the test)")
    return errors


def split_comment(line):
    """(code, comment) at the first # that starts a shell comment (outside quotes)."""
    quote = None
    for i, c in enumerate(line):
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i], line[i:]
    return line, ""


def substitute(text, port):
    """The placeholders of one block, as a bash script body."""
    text = re.sub(r"(https?://)?(tuner\.internal|tuner|127\.0\.0\.1|localhost):8080",
                  lambda m: f"{m.group(1) or ''}127.0.0.1:{port}", text)
    text = re.sub(r"ATTNJIT_TOKEN=\.\.\.", 'ATTNJIT_TOKEN="$(cat token)"', text)
    out = []
    for line in text.split("\n"):
        code, comment = split_comment(line)
        for placeholder, fn in (("job-…", "__readme_job"), ("<next_cursor>", "__readme_cursor")):
            while placeholder in code:
                at = code.index(placeholder)
                quoted = code[:at].count("'") % 2 == 1  # inside '...': close, expand, reopen
                expansion = f"'\"$({fn})\"'" if quoted else f"\"$({fn})\""
                code = code[:at] + expansion + code[at + len(placeholder):]
        out.append(code + comment)
    return "\n".join(out)


PRELUDE = r"""
set -eo pipefail
__readme_log=.readme/replies.log
# Replies are kept so later placeholders can use them; a JSON error reply fails the example.
curl() {
  local out rc=0
  out=$(command curl "$@") || rc=$?
  printf '%s\n' "$out" >> "$__readme_log"
  printf '%s\n' "$out"
  if [ $rc -ne 0 ]; then echo "readme: curl exited $rc" >&2; return $rc; fi
  if printf '%s' "$out" | grep -q '^{"error":'; then echo "readme: the server answered an error" >&2; return 1; fi
}
attnjit() {
  command attnjit "$@" | tee -a "$__readme_log"
}
__readme_job() {
  local id
  id=$(grep -o '"id": *"job-[A-Za-z0-9]*"' "$__readme_log" | tail -1 | grep -o 'job-[A-Za-z0-9]*') || true
  [ -n "$id" ] || { echo "readme: job-… used before any reply named a job" >&2; return 1; }
  echo "$id"
}
__readme_cursor() {
  local c
  c=$(grep -o '"next_cursor": *[0-9][0-9]*' "$__readme_log" | tail -1 | grep -o '[0-9]*$') || true
  [ -n "$c" ] || { echo "readme: <next_cursor> used before any reply had one" >&2; return 1; }
  echo "$c"
}
"""


def stand_ins(work, attnjit, text):
    """Files a skipped (GPU / cluster) block would have produced, exported from tune.db."""
    db = os.path.join(work, "tune.db")
    def export(path):
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        subprocess.run([attnjit, "db", "export", "--db", db, "--out", path], cwd=work, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if "h100.jsonl" in text and not os.path.exists(os.path.join(work, "h100.jsonl")):
        export(os.path.join(work, "h100.jsonl"))
    if "out/shard-" in text and not os.path.isdir(os.path.join(work, "out")):
        for i in range(2):
            export(os.path.join(work, "out", f"shard-{i}.jsonl"))


def http_json(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--attnjit", required=True)
    ap.add_argument("--readme", required=True)
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    ap.add_argument("--job-timeout", type=float, default=300)
    args = ap.parse_args()
    attnjit = os.path.abspath(args.attnjit)
    with open(args.readme, encoding="utf-8") as f:
        blocks, errors = extract_blocks(f.read())
    errors += check_blocks(blocks)
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1

    work = tempfile.mkdtemp(prefix="attnjit-readme-")
    os.makedirs(os.path.join(work, ".readme"))
    bindir = os.path.join(work, ".readme", "bin")
    os.makedirs(bindir)
    os.symlink(attnjit, os.path.join(bindir, "attnjit"))
    token = secrets.token_hex(16)
    with open(os.path.join(work, "token"), "w") as f:
        f.write(token + "\n")
    os.chmod(os.path.join(work, "token"), 0o600)

    server = subprocess.Popen([attnjit, "serve", "--db", "tune.db", "--port", "0", "--token-file", "token"],
                              cwd=work, stdout=subprocess.PIPE, stderr=open(os.path.join(work, ".readme", "serve.log"), "w"),
                              text=True)
    line = server.stdout.readline()
    m = re.search(r"127\.0\.0\.1:(\d+)", line)
    if not m:
        print(f"readme: attnjit serve did not start: {line}", file=sys.stderr)
        server.kill()
        return 1
    port = int(m.group(1))
    base = f"http://127.0.0.1:{port}"
    nvrtc = http_json(base + "/v1/health")["nvrtc"]["available"]

    env = dict(os.environ)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env["ATTNJIT_SERVER"] = base
    env.pop("ATTNJIT_DB", None)

    ran, skipped, failed = 0, {}, []
    shell_blocks = [b for b in blocks if b.lang in SHELL_LANGS]
    try:
        for b in shell_blocks:
            reason = b.mark("skip")
            if reason is None and b.mark("needs") == "nvrtc" and not nvrtc:
                reason = "needs nvrtc"
            if reason is not None:
                skipped[reason] = skipped.get(reason, 0) + 1
                print(f"readme: README.md:{b.line}: skipped ({reason})")
                continue
            stand_ins(work, attnjit, b.text)
            script = PRELUDE + substitute(b.text, port) + "\n"
            t0 = time.time()
            r = subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True,
                               timeout=600)
            ran += 1
            status = "ok" if r.returncode == 0 else f"FAILED (exit {r.returncode})"
            print(f"readme: README.md:{b.line}: {status} in {time.time() - t0:.1f} s")
            if r.returncode != 0:
                failed.append(b.line)
                print("---- block ----\n" + b.text + "\n---- stdout (tail) ----\n" + r.stdout[-3000:] +
                      "\n---- stderr (tail) ----\n" + r.stderr[-3000:], file=sys.stderr)
        # Every job the examples queued must succeed.
        log = open(os.path.join(work, ".readme", "replies.log")).read() if os.path.exists(
            os.path.join(work, ".readme", "replies.log")) else ""
        for job in sorted(set(re.findall(r'"id": *"(job-[A-Za-z0-9]+)"', log))):
            deadline = time.time() + args.job_timeout
            state = "?"
            while time.time() < deadline:
                j = http_json(f"{base}/v1/jobs/{job}")
                state = j.get("state")
                if state in ("succeeded", "failed", "interrupted"):
                    break
                time.sleep(0.5)
            print(f"readme: {job}: {state}")
            if state != "succeeded":
                failed.append(job)
                print(f"readme: {job} ended {state}: {json.dumps(j)[:2000]}", file=sys.stderr)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            rc = server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            rc = -9
        if rc != 0:
            failed.append(f"serve exit {rc}")
        if args.keep:
            print(f"readme: scratch directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    total_skipped = sum(skipped.values())
    detail = ", ".join(f"{k}: {v}" for k, v in sorted(skipped.items()))
    print(f"readme: {len(shell_blocks)} shell examples: {ran} ran, {total_skipped} skipped"
          + (f" ({detail})" if detail else "") + f", {len(failed)} failed")
    return 1 if failed or ran == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
