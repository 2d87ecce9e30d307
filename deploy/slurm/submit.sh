#!/usr/bin/env bash
# Submits `abmark variants` to Slurm as a job array of N chunks (variants.sbatch, one task per
# chunk) and the assemble job (assemble.sbatch) that runs after every chunk succeeded
# (--dependency=afterok, --kill-on-invalid-dep=yes: it is cancelled, not left pending, if a
# chunk fails or is cancelled). OUT must be on storage every node sees.
#
#   deploy/slurm/submit.sh [options] SRC OUT N --key KEY [-- extra variants flags]
#
# Options:
#   --key KEY          watermark key file (required)
#   --wait             block until the jobs end; exit non-zero if any task or the assembly failed
#   --chunks LIST      submit only these chunks of the N (a Slurm index list: 1 or 0,3 or 2-5),
#                      e.g. to resubmit a failed or cancelled one; the assembly runs after them
#   --throttle M       at most M chunks at once (sbatch --array=...%M)
#   --logs DIR         where the jobs' output files go (default OUT.slurm-logs next to OUT)
#   --json             print the job ids (and, with --wait, the outcome) as one JSON object
# Other sbatch settings come from its environment: SBATCH_PARTITION, SBATCH_ACCOUNT,
# SBATCH_TIMELIMIT, ... ABMARK_BIN: the abmark binary (default `abmark` on PATH, else this
# checkout's target/release/abmark). Prints: `variants job ID (chunks LIST of N)` and
# `assemble job ID`.
set -euo pipefail
me=submit.sh
# shellcheck source=deploy/slurm/lib.sh
source "$(dirname "$0")/lib.sh"

help() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

key="" wait=0 chunks="" throttle="" logs="" json=0 pos=() extra=()
while (($#)); do
  case "$1" in
    -h | --help) help; exit 0 ;;
    --key) need_value "$1" $#; key=$2; shift ;;
    --key=*) key=${1#*=} ;;
    --wait) wait=1 ;;
    --chunks) need_value "$1" $#; chunks=$2; shift ;;
    --throttle) need_value "$1" $#; throttle=$2; shift ;;
    --logs) need_value "$1" $#; logs=$2; shift ;;
    --json) json=1 ;;
    --) shift; extra=("$@"); break ;;
    -*) usage_error "unknown option $1" ;;
    *) pos+=("$1") ;;
  esac
  shift
done
((${#pos[@]} == 3)) || usage_error "usage: submit.sh [options] SRC OUT N --key KEY [-- extra variants flags]"
src=$(abs "${pos[0]}") out=$(abs "${pos[1]}") n=${pos[2]}
[ -n "$key" ] || usage_error "--key KEY is required"
key=$(abs "$key")
[[ $n =~ ^[1-9][0-9]*$ ]] || usage_error "N must be a positive integer, not '$n'"
[ -f "$src" ] || die "source $src: no such file"
[ -f "$key" ] || die "key $key: no such file"
[ -d "$(dirname "$out")" ] || die "output's folder $(dirname "$out") does not exist"
[ -z "$throttle" ] || [[ $throttle =~ ^[1-9][0-9]*$ ]] || usage_error "--throttle must be a positive integer"
if [ -n "$chunks" ]; then
  [[ $chunks =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]] || usage_error "--chunks must be like 1 or 0,3 or 2-5, not '$chunks'"
  for c in $(tr ',-' '  ' <<<"$chunks"); do
    ((10#$c < n)) || usage_error "--chunks: chunk $c is outside 0..$((n - 1))"
  done
else
  chunks=0-$((n - 1))
fi
require_slurm
resolve_bin
logs=$(abs "${logs:-$out.slurm-logs}")
mkdir -p "$logs"

array=$chunks${throttle:+%$throttle}
# --export=ALL: the job sees this environment (ABMARK_BIN) plus N, which a partial array
# (--chunks) cannot tell the task itself.
vjob=$(sbatch --parsable --array="$array" --export="ALL,ABMARK_CHUNKS=$n" \
  --output="$logs/variants-%A_%a.out" \
  "$slurm_dir/variants.sbatch" "$src" "$out" "$key" "${extra[@]}") ||
  die "sbatch refused the variants array"
vjob=${vjob%%;*}
ajob=$(sbatch --parsable --dependency="afterok:$vjob" --kill-on-invalid-dep=yes \
  --output="$logs/assemble-%j.out" "$slurm_dir/assemble.sbatch" "$out") || {
  scancel "$vjob" || true
  die "sbatch refused the assemble job (variants job $vjob cancelled)"
}
ajob=${ajob%%;*}
((json)) || {
  echo "variants job $vjob (chunks $chunks of $n)"
  echo "assemble job $ajob"
}
status=0
if ((wait)); then
  wait_jobs "$vjob" "$ajob" || status=$?
fi
if ((json)); then
  outcome=""
  ((wait)) && outcome=", \"ok\": $([ "$status" -eq 0 ] && echo true || echo false)"
  printf '{"variants_job": "%s", "assemble_job": "%s", "chunks": "%s", "n": %s, "output": %s, "logs": %s%s}\n' \
    "$vjob" "$ajob" "$chunks" "$n" "$(json_str "$out")" "$(json_str "$logs")" "$outcome"
fi
exit "$status"
