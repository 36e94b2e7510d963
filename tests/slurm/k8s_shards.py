#!/usr/bin/env python3
"""Runs deploy/tune-job.yaml's container the way Kubernetes would, once per completion index,
with DRY_RUN=1, and prints "INDEX KEY" for every problem each pod would tune.

  k8s_shards.py JOB.yaml SCRIPT ATTNJIT_BIN

The pod's environment is built from the manifest: plain values as written, the downward-API
fields an Indexed Job sets (the completion-index annotation, the controller-uid label), optional
secrets left out. The image's /opt/attnjit/tune-array.slurm is SCRIPT (the checkout's copy) and
ATTNJIT_BIN's folder is put on PATH. Exits 1 naming the field when SHARDS is not completions,
or the Job is not Indexed.
"""
import os
import subprocess
import sys

import yaml

IMAGE_SCRIPT = "/opt/attnjit/tune-array.slurm"


def fail(msg):
    sys.exit(f"k8s_shards: {msg}")


def pod_env(container, index):
    env = {}
    for e in container.get("env", []):
        if "value" in e:
            env[e["name"]] = str(e["value"])
            continue
        src = e.get("valueFrom", {})
        path = src.get("fieldRef", {}).get("fieldPath", "")
        if path == "metadata.annotations['batch.kubernetes.io/job-completion-index']":
            env[e["name"]] = str(index)
        elif path == "metadata.labels['batch.kubernetes.io/controller-uid']":
            env[e["name"]] = "0b5e3f0e-test-uid"
        elif src.get("secretKeyRef", {}).get("optional"):
            continue
        else:
            fail(f"env {e['name']}: no emulation for {src}")
    env["JOB_COMPLETION_INDEX"] = str(index)  # what Kubernetes also sets
    return env


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    manifest, script, attnjit = sys.argv[1:]
    with open(manifest, encoding="utf-8") as f:
        job = yaml.safe_load(f)
    spec = job["spec"]
    if job.get("kind") != "Job" or spec.get("completionMode") != "Indexed":
        fail("kind / spec.completionMode: expected an Indexed Job")
    containers = spec["template"]["spec"]["containers"]
    if len(containers) != 1:
        fail("spec.template.spec.containers: expected one container")
    c = containers[0]
    shards = {e["name"]: e.get("value") for e in c.get("env", [])}.get("SHARDS")
    n = spec.get("completions")
    # parallelism may be smaller (fewer pods at a time); every index still runs once.
    if shards != str(n):
        fail(f"env SHARDS ({shards}) must equal spec.completions ({n})")
    argv = [script if a == IMAGE_SCRIPT else a for a in c["command"] + c.get("args", [])]
    if script not in argv:
        fail(f"containers[0].command: does not run {IMAGE_SCRIPT}")
    for i in range(n):
        env = {"PATH": os.path.dirname(os.path.abspath(attnjit)) + ":" + os.environ["PATH"], "DRY_RUN": "1"}
        env.update(pod_env(c, i))
        r = subprocess.run(argv, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            fail(f"index {i}: the container exited {r.returncode}: {r.stderr.strip()}")
        for key in r.stdout.split():
            print(i, key)


if __name__ == "__main__":
    main()
