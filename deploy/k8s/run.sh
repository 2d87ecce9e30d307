#!/usr/bin/env bash
# Runs abmark's long jobs on a Kubernetes cluster with the manifests beside this script, in the
# order they need: each step is applied only after the one before is Complete (`kubectl wait
# --for=condition=complete`); a step that fails stops the run with the Job's name.
#
#   deploy/k8s/run.sh variants N [PARALLEL]   Indexed Job of N chunks, then the assemble Job
#   deploy/k8s/run.sh detect K [PARALLEL]     Indexed Job over the K copies of the list
#   deploy/k8s/run.sh bench N [PARALLEL]      prepare Job, Indexed Job of N cell shares, merge
#   deploy/k8s/run.sh render JOB N [PARALLEL] print a Job's manifest with N and PARALLEL set
#
# Before the first run: build and push deploy/Dockerfile, put the image's name in the manifests
# (or `kustomize edit set image`), `kubectl apply -f deploy/k8s/pvc.yaml`, copy the sources to
# the volume, and create the key Secret from your key file (never commit it):
#   kubectl create secret generic abmark-key --from-file=wm.key=out/wm.key
# Paths on the volume (SOURCE, OUT, LIST, WORK) are the manifests' env values; edit them there.
# ABMARK_K8S_TIMEOUT: how long to wait for each step (default 24h). A Job of the same name
# left by an earlier run is deleted first.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
timeout=${ABMARK_K8S_TIMEOUT:-24h}

die() {
  echo "run.sh: $*" >&2
  exit 1
}
usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 64
}

# The manifest of FILE with the Indexed Job's completions, parallelism and the env variable
# VAR (the N the pods divide by) set; the manifests keep these on lines of their own.
render() { # render FILE VAR N PARALLEL
  sed -E -e "s/^(  completions: )[0-9]+$/\1$3/" -e "s/^(  parallelism: )[0-9]+$/\1$4/" \
    -e "s/^( +- \{name: $2, value: )\"[0-9]+\"\}$/\1\"$3\"}/" "$1"
}

# Applies a Job (manifest on stdin, name $1) and waits until it is Complete; fails if it
# failed or the wait timed out.
run_job() {
  local job=$1
  kubectl delete job "$job" --ignore-not-found --wait=true >/dev/null
  kubectl apply -f - >/dev/null
  echo "run.sh: $job started" >&2
  if ! kubectl wait --for=condition=complete "job/$job" --timeout="$timeout" >/dev/null; then
    kubectl get job "$job" -o wide >&2 || true
    die "job $job did not complete (kubectl describe job $job; kubectl logs job/$job)"
  fi
  echo "run.sh: $job complete" >&2
}

count() { [[ ${1:-} =~ ^[1-9][0-9]*$ ]] || die "$2 must be a positive integer, not '${1:-}'"; }

[ $# -ge 2 ] || usage
what=$1 n=$2 parallel=${3:-$2}
if [ "$what" = render ]; then
  [ $# -ge 3 ] || usage
  job=$2 n=$3 parallel=${4:-$3}
fi
count "$n" N
count "$parallel" PARALLEL
[ "$what" = render ] || command -v kubectl >/dev/null || die "kubectl not found"

case "$what" in
  variants)
    render "$here/variants-job.yaml" CHUNKS "$n" "$parallel" | run_job abmark-variants
    run_job abmark-assemble <"$here/assemble-job.yaml"
    ;;
  detect)
    render "$here/detect-job.yaml" NONE "$n" "$parallel" | run_job abmark-detect
    ;;
  bench)
    run_job abmark-bench-prepare <"$here/bench-prepare-job.yaml"
    render "$here/bench-cells-job.yaml" TASKS "$n" "$parallel" | run_job abmark-bench-cells
    run_job abmark-bench-merge <"$here/bench-merge-job.yaml"
    ;;
  render)
    case "$job" in
      variants) render "$here/variants-job.yaml" CHUNKS "$n" "$parallel" ;;
      detect) render "$here/detect-job.yaml" NONE "$n" "$parallel" ;;
      bench-cells) render "$here/bench-cells-job.yaml" TASKS "$n" "$parallel" ;;
      *) die "render: no Indexed Job '$job' (variants, detect, bench-cells)" ;;
    esac
    ;;
  *) usage ;;
esac
