#!/usr/bin/env bash
# Submits `abmark detect` on many copies at once: a Slurm job array (detect.sbatch), one task per
# copy of LIST (one path per line; blank lines and `#` comments skipped), each writing its
# `detect --json` report to RESULTS/<copy's file name>.json atomically.
#
#   deploy/slurm/submit-detect.sh [options] LIST RESULTS --ref REF --key KEY [-- detect flags]
#
# Options:
#   --ref REF          the variants output (or the unmarked source), as for `abmark detect`
#   --key KEY          watermark key file
#   --wait             block until every task ended; exit non-zero if any failed
#   --throttle M       at most M copies at once
#   --logs DIR         the tasks' output files (default RESULTS/.slurm-logs)
#   --json             print the job id (and, with --wait, the outcome) as one JSON object
# Detect flags after `--` go to every task (e.g. --sessions LOG). A copy detect names nobody in
# still gets its report (verdict in it); a task fails only when detect cannot run. RESULTS is
# created; copy file names must be unique. Other sbatch settings: SBATCH_* environment.
# ABMARK_BIN: as for submit.sh.
set -euo pipefail
me=submit-detect.sh
# shellcheck source=deploy/slurm/lib.sh
source "$(dirname "$0")/lib.sh"

help() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

ref="" key="" wait=0 throttle="" logs="" json=0 pos=() extra=()
while (($#)); do
  case "$1" in
    -h | --help) help; exit 0 ;;
    --ref) need_value "$1" $#; ref=$2; shift ;;
    --key) need_value "$1" $#; key=$2; shift ;;
    --wait) wait=1 ;;
    --throttle) need_value "$1" $#; throttle=$2; shift ;;
    --logs) need_value "$1" $#; logs=$2; shift ;;
    --json) json=1 ;;
    --) shift; extra=("$@"); break ;;
    -*) usage_error "unknown option $1" ;;
    *) pos+=("$1") ;;
  esac
  shift
done
((${#pos[@]} == 2)) || usage_error "usage: submit-detect.sh [options] LIST RESULTS --ref REF --key KEY [-- detect flags]"
[ -n "$ref" ] && [ -n "$key" ] || usage_error "--ref REF and --key KEY are required"
list=$(abs "${pos[0]}") results=$(abs "${pos[1]}") ref=$(abs "$ref") key=$(abs "$key")
[ -z "$throttle" ] || [[ $throttle =~ ^[1-9][0-9]*$ ]] || usage_error "--throttle must be a positive integer"
[ -f "$list" ] || die "list of copies $list: no such file"
[ -e "$ref" ] || die "reference $ref: no such file or directory"
[ -f "$key" ] || die "key $key: no such file"

# The same filter as detect.sbatch, so task I is copy I.
mapfile -t copies < <(grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$list" || true)
((${#copies[@]})) || die "$list names no copy"
line=0
declare -A seen=()
for c in "${copies[@]}"; do
  line=$((line + 1))
  [[ $c == /* ]] || die "$list: copy $line ($c) is not an absolute path"
  [ -f "$c" ] || die "$list: copy $line ($c): no such file"
  name=$(basename "$c")
  [ -z "${seen[$name]:-}" ] || die "$list: copies ${seen[$name]} and $line have the same file name $name (their reports would collide)"
  seen[$name]=$line
done
require_slurm
resolve_bin
mkdir -p "$results"
logs=$(abs "${logs:-$results/.slurm-logs}")
mkdir -p "$logs"

array=0-$((${#copies[@]} - 1))${throttle:+%$throttle}
job=$(sbatch --parsable --array="$array" --export=ALL --output="$logs/detect-%A_%a.out" \
  "$slurm_dir/detect.sbatch" "$list" "$results" --ref "$ref" --key "$key" "${extra[@]}") ||
  die "sbatch refused the detect array"
job=${job%%;*}
((json)) || echo "detect job $job (${#copies[@]} copies, reports in $results)"
status=0
if ((wait)); then
  wait_jobs "$job" || status=$?
fi
if ((json)); then
  outcome=""
  ((wait)) && outcome=", \"ok\": $([ "$status" -eq 0 ] && echo true || echo false)"
  printf '{"detect_job": "%s", "copies": %s, "results": %s, "logs": %s%s}\n' \
    "$job" "${#copies[@]}" "$(json_str "$results")" "$(json_str "$logs")" "$outcome"
fi
exit "$status"
