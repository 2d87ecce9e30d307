"""The rules abmark's Kubernetes manifests keep, beyond what the schemas check.

    python check-manifests.py FILE...   (PyYAML; `scripts/tools.sh k8s` has it)

Prints one line per broken rule (`FILE: job/NAME: what`) and exits 1, or prints `ok N` (the
number of resources checked). Rules: every pod runs as a non-root user with a RuntimeDefault
seccomp profile; every container drops all capabilities, cannot escalate, has a read-only root
file system and CPU and memory requests and limits; a Secret is mounted read-only with mode
0400 or 0600; an Indexed Job's `completions` equals the N its pods divide by (the CHUNKS or
TASKS variable); every claimed volume is ReadWriteMany.
"""

import sys

import yaml

PRIVATE_MODES = (0o400, 0o600)


def check_pod(where, pod, problems):
    ctx = pod.get("securityContext") or {}
    if ctx.get("runAsNonRoot") is not True or not ctx.get("runAsUser"):
        problems.append(f"{where}: pod not forced to a non-root user")
    if (ctx.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        problems.append(f"{where}: no RuntimeDefault seccomp profile")
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    for v in volumes.values():
        secret = v.get("secret")
        mode = (secret or {}).get("defaultMode")
        if secret is not None and mode not in PRIVATE_MODES:
            shown = f"{mode:04o}" if isinstance(mode, int) else repr(mode)
            problems.append(f"{where}: secret volume {v['name']} mode {shown}, not 0400/0600")
    for c in (pod.get("initContainers") or []) + (pod.get("containers") or []):
        name = f"{where}: container {c['name']}"
        sc = c.get("securityContext") or {}
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: may escalate privileges")
        if sc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{name}: writable root file system")
        if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
            problems.append(f"{name}: keeps capabilities")
        res = c.get("resources") or {}
        for kind in ("requests", "limits"):
            for what in ("cpu", "memory"):
                if what not in (res.get(kind) or {}):
                    problems.append(f"{name}: no {what} {kind[:-1]}")
        for m in c.get("volumeMounts") or []:
            if "secret" in volumes.get(m["name"], {}) and m.get("readOnly") is not True:
                problems.append(f"{name}: secret {m['name']} mounted writable")


def check(path, doc, problems):
    kind, name = doc.get("kind"), (doc.get("metadata") or {}).get("name")
    where = f"{path}: {str(kind).lower()}/{name}"
    if kind == "PersistentVolumeClaim":
        if doc["spec"].get("accessModes") != ["ReadWriteMany"]:
            problems.append(f"{where}: not ReadWriteMany (pods on many nodes share it)")
        return
    if kind != "Job":
        problems.append(f"{where}: unexpected kind")
        return
    spec = doc["spec"]
    pod = spec["template"]["spec"]
    check_pod(where, pod, problems)
    if spec.get("completionMode") == "Indexed":
        env = {e["name"]: e.get("value") for c in pod["containers"] for e in c.get("env") or []}
        for var in ("CHUNKS", "TASKS"):
            if var in env and str(spec.get("completions")) != env[var]:
                problems.append(f"{where}: completions {spec.get('completions')} but {var}={env[var]}")
        if (spec.get("parallelism") or 1) > spec.get("completions", 1):
            problems.append(f"{where}: parallelism above completions")


def main(paths):
    problems, count = [], 0
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for doc in yaml.safe_load_all(f):
                if doc:
                    count += 1
                    check(path, doc, problems)
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"ok {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
