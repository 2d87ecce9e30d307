#!/usr/bin/env bash
# Submits `eval bench` to Slurm: the prepare job (each clip's variants, quality and speed, and
# the plan with every random draw), a job array of N tasks each running a share of the cells
# (bench.sbatch cells, after the preparation succeeded), and the merge job that checks every
# cell is there and writes the report (after every task succeeded). The report is the one the
# one-process run writes, timing fields aside (`eval bench merge --json` lists them). WORK must
# be on storage every node sees, at the same path.
#
#   deploy/slurm/bench-submit.sh [options] WORK N [-- eval bench flags, e.g. --quick]
#
# Options:
#   --prepared       WORK is already prepared (by `eval bench --prepare` or a one-process run
#                    with --work WORK): submit no prepare job; the old results of the cells
#                    the submitted tasks run are removed first, so the report holds this
#                    submission's results for them
#   --tasks LIST     submit only these tasks of the N (a Slurm index list: 1 or 0,3 or 2-5),
#                    e.g. to resubmit a failed one (with --prepared: the other tasks' results
#                    stay); the merge runs after them
#   --out STEM       the report's path without extension (default: the preparation's)
#   --throttle M     at most M tasks at once (sbatch --array=...%M)
#   --logs DIR       where the jobs' output files go (default WORK/slurm-logs)
#   --wait           block until the jobs end; exit non-zero if any failed
#   --json           print the job ids (and, with --wait, the outcome) as one JSON object
# Other sbatch settings come from its environment (SBATCH_PARTITION, SBATCH_TIMELIMIT, ...).
# EVAL_BIN: the `eval` binary (default: this checkout's target/release/eval); compute nodes
# must see the same path.
set -euo pipefail
me=bench-submit.sh
# shellcheck source=deploy/slurm/lib.sh
source "$(dirname "$0")/lib.sh"

help() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

prepared=0 tasks="" out="" throttle="" logs="" wait=0 json=0 pos=() flags=()
while (($#)); do
  case "$1" in
    -h | --help) help; exit 0 ;;
    --prepared) prepared=1 ;;
    --tasks) need_value "$1" $#; tasks=$2; shift ;;
    --out) need_value "$1" $#; out=$2; shift ;;
    --throttle) need_value "$1" $#; throttle=$2; shift ;;
    --logs) need_value "$1" $#; logs=$2; shift ;;
    --wait) wait=1 ;;
    --json) json=1 ;;
    --) shift; flags=("$@"); break ;;
    -*) usage_error "unknown option $1" ;;
    *) pos+=("$1") ;;
  esac
  shift
done
((${#pos[@]} == 2)) || usage_error "usage: bench-submit.sh [options] WORK N [-- eval bench flags]"
work=$(abs "${pos[0]}") n=${pos[1]}
[[ $n =~ ^[1-9][0-9]*$ ]] || usage_error "N must be a positive integer, not '$n'"
[ -z "$throttle" ] || [[ $throttle =~ ^[1-9][0-9]*$ ]] || usage_error "--throttle must be a positive integer"
if [ -n "$tasks" ]; then
  [[ $tasks =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]] || usage_error "--tasks must be like 1 or 0,3 or 2-5, not '$tasks'"
  for t in $(tr ',-' '  ' <<<"$tasks"); do
    ((10#$t < n)) || usage_error "--tasks: task $t is outside 0..$((n - 1))"
  done
else
  tasks=0-$((n - 1))
fi
if ((prepared)); then
  ((${#flags[@]} == 0)) || usage_error "--prepared takes no bench flags (the plan in WORK holds them)"
  [ -f "$work/bench-plan.json" ] || die "$work is not prepared (no bench-plan.json): drop --prepared"
else
  mkdir -p "$work"
fi
EVAL_BIN=${EVAL_BIN:-$repo/target/release/eval}
[ -x "$EVAL_BIN" ] || die "no eval binary at $EVAL_BIN (set EVAL_BIN or build it: cargo build --release -p eval)"
EVAL_BIN=$(realpath "$EVAL_BIN")
export EVAL_BIN
require_slurm
logs=$(abs "${logs:-$work/slurm-logs}")
mkdir -p "$logs"
merge_flags=()
[ -z "$out" ] || merge_flags=(--out "$(abs "$out")")

after=()
pjob=""
if ((prepared)); then
  # A result of an earlier run must not stand in for a cell this submission runs: task t runs
  # the units whose number is t modulo N (eval bench --cells t/N).
  declare -A submitted=()
  for range in ${tasks//,/ }; do
    for ((t = 10#${range%-*}; t <= 10#${range#*-}; t++)); do submitted[$t]=1; done
  done
  for result in "$work"/cells/unit-*.json; do
    [ -e "$result" ] || continue
    unit=${result##*/unit-}
    unit=$((10#${unit%.json}))
    [ -z "${submitted[$((unit % n))]:-}" ] || rm -f "$result"
  done
else
  pjob=$(sbatch --parsable --job-name=abmark-bench-prepare --output="$logs/prepare-%j.out" \
    "$slurm_dir/bench.sbatch" prepare "$work" "${flags[@]}") || die "sbatch refused the prepare job"
  pjob=${pjob%%;*}
  after=(--dependency="afterok:$pjob" --kill-on-invalid-dep=yes)
fi
cjob=$(sbatch --parsable "${after[@]}" --array="$tasks${throttle:+%$throttle}" \
  --export="ALL,ABMARK_BENCH_TASKS=$n" --output="$logs/cells-%A_%a.out" \
  "$slurm_dir/bench.sbatch" cells "$work") || {
  [ -z "$pjob" ] || scancel "$pjob" || true
  die "sbatch refused the cells array"
}
cjob=${cjob%%;*}
mjob=$(sbatch --parsable --dependency="afterok:$cjob" --kill-on-invalid-dep=yes \
  --job-name=abmark-bench-merge --output="$logs/merge-%j.out" \
  "$slurm_dir/bench.sbatch" merge "$work" "${merge_flags[@]}") || {
  scancel "$cjob" ${pjob:+"$pjob"} || true
  die "sbatch refused the merge job (cells job $cjob cancelled)"
}
mjob=${mjob%%;*}
((json)) || {
  [ -z "$pjob" ] || echo "prepare job $pjob"
  echo "cells job $cjob (tasks $tasks of $n)"
  echo "merge job $mjob"
}
status=0
if ((wait)); then
  wait_jobs ${pjob:+"$pjob"} "$cjob" "$mjob" || status=$?
fi
if ((json)); then
  outcome=""
  ((wait)) && outcome=", \"ok\": $([ "$status" -eq 0 ] && echo true || echo false)"
  printf '{"prepare_job": %s, "cells_job": "%s", "merge_job": "%s", "tasks": "%s", "n": %s, "work": %s, "logs": %s%s}\n' \
    "$([ -n "$pjob" ] && echo "\"$pjob\"" || echo null)" "$cjob" "$mjob" "$tasks" "$n" \
    "$(json_str "$work")" "$(json_str "$logs")" "$outcome"
fi
exit "$status"
