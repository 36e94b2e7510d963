#!/usr/bin/env python3
"""Reads JSON Lines exports (attnjit db export) for the fleet tests.

  fleet_check.py rows FILE...          sorted "problem config status" lines (duplicates kept)
  fleet_check.py problems FILE...      sorted problem keys
  fleet_check.py stamps FILE...        "problem config status measured_at_ms median_ms" lines
  fleet_check.py best MERGED.db REF.db MERGED.jsonl REF.jsonl
      For every problem, the best config of the merged shards and of the single-machine run
      must be the same, or else the two configs must tie in one of the two runs: their measured
      ranges [min_ms, max_ms] overlap, or their medians are within the contention factor (the
      array runs 4 tasks on 2 cores, so a config using both cores can measure up to 2x slower
      there than alone). Prints one line per problem; exits 1 on a best that is faster beyond
      that.
"""
import json
import os

# 4 array tasks share 2 cores: a 2-thread config gets at most half the CPU it gets alone.
CONTENTION = 2.0
import subprocess
import sys


def load(files):
    out = []
    for f in files:
        with open(f, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    out.append(json.loads(line)["result"])
                except (ValueError, KeyError) as e:
                    sys.exit(f"{f}:{n}: not an export line: {e}")
    return out


def best_config(db, problem):
    r = subprocess.run([os.environ["ATTNJIT"], "db", "best", "--db", db, "--problem", problem],
                       check=True, capture_output=True, text=True)
    entries = json.loads(r.stdout)["best"]
    return entries[0]["config"] if entries else None


def cmd_best(merged_db, ref_db, merged_jsonl, ref_jsonl):
    runs = {"shards": {}, "single": {}}
    for name, f in (("shards", merged_jsonl), ("single", ref_jsonl)):
        for r in load([f]):
            runs[name][(r["problem"], r["config"])] = r
    problems = sorted({p for p, _ in runs["single"]})
    bad = 0
    for p in problems:
        a, b = best_config(merged_db, p), best_config(ref_db, p)
        if a == b:
            print(f"{p}: same best {a}")
            continue
        overlaps = []
        for name, rows in runs.items():
            ra, rb = rows.get((p, a)), rows.get((p, b))
            if ra and rb and ra["status"] == rb["status"] == "ok":
                ratio = max(ra["median_ms"], rb["median_ms"]) / max(1e-12, min(ra["median_ms"], rb["median_ms"]))
                overlaps.append((ra["min_ms"] <= rb["max_ms"] and rb["min_ms"] <= ra["max_ms"]) or
                                ratio <= CONTENTION)
                print(f"{p}: {name}: {a} [{ra['min_ms']:.4f}, {ra['max_ms']:.4f}] ms vs "
                      f"{b} [{rb['min_ms']:.4f}, {rb['max_ms']:.4f}] ms")
        if any(overlaps):
            print(f"{p}: best differs ({a} vs {b}) within the measured spread or the contention factor")
        else:
            print(f"{p}: best differs ({a} vs {b}) BEYOND the measured spread")
            bad += 1
    return 1 if bad else 0


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "rows":
        for r in sorted(f"{r['problem']} {r['config']} {r['status']}" for r in load(args)):
            print(r)
    elif cmd == "problems":
        for p in sorted({r["problem"] for r in load(args)}):
            print(p)
    elif cmd == "stamps":
        for r in sorted(f"{r['problem']} {r['config']} {r['status']} {r['measured_at_ms']} {r['median_ms']}"
                        for r in load(args)):
            print(r)
    elif cmd == "best" and len(args) == 4:
        return cmd_best(*args)
    else:
        sys.exit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
