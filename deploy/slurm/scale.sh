#!/usr/bin/env bash
# Measures `abmark variants` of CLIP on the single-node Slurm cluster (local-cluster.sh, in its
# own directory target/slurm-scale/): the one-machine run, then the job array of N chunks with
# at most W chunks at once for each W given (`submit.sh --throttle W --wait`). Prints a Markdown
# table: wall time end to end (submission to assembled output), CPU time (user + sys, from
# /usr/bin/time around every abmark process, so other load on a shared machine changes it
# little), the slowest chunk and the assembly.
#
#   deploy/slurm/scale.sh CLIP N "W1 W2 ..." [extra variants flags]
#   e.g. deploy/slurm/scale.sh datasets/cache/abmark-720p.mp4 8 "1 2"
#
# SCALE_SINGLE=0 skips the one-machine run. ABMARK_BIN as for submit.sh. Work goes to a
# temporary directory, removed at the end; the cluster is taken down at the end, even on error.
set -euo pipefail
me=scale.sh
# shellcheck source=deploy/slurm/lib.sh
source "$(dirname "$0")/lib.sh"

(($# >= 3)) || usage_error "usage: scale.sh CLIP N \"W1 W2 ...\" [extra variants flags]"
clip=$(abs "$1") n=$2 workers=$3
shift 3
extra=("$@")
[ -f "$clip" ] || die "clip $clip: no such file"
[[ $n =~ ^[1-9][0-9]*$ ]] || usage_error "N must be a positive integer"
resolve_bin
real_bin=$ABMARK_BIN

work=$(mktemp -d)
export ABMARK_SLURM_DIR=$repo/target/slurm-scale
cleanup() {
  bash "$slurm_dir/local-cluster.sh" down >/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
bash "$slurm_dir/local-cluster.sh" up >/dev/null
eval "$(bash "$slurm_dir/local-cluster.sh" env)"

# Every abmark process of a run appends "LABEL user sys wall" to $ABMARK_TIME_LOG (the jobs
# inherit the environment): LABEL is the array task (the chunk) or "assemble".
cat >"$work/abmark-timed" <<EOF
#!/bin/sh
exec /usr/bin/time -a -o "\$ABMARK_TIME_LOG" -f "\${SLURM_ARRAY_TASK_ID:-assemble} %U %S %e" "$real_bin" "\$@"
EOF
chmod +x "$work/abmark-timed"
"$real_bin" keygen -o "$work/wm.key" >/dev/null

now() { date +%s.%N; }
echo "| run | wall s | CPU s | slowest chunk: wall s / CPU s | assembly: wall s / CPU s |"
echo "|---|---|---|---|---|"
if [ "${SCALE_SINGLE:-1}" != 0 ]; then
  /usr/bin/time -o "$work/single.time" -f "%U %S %e" \
    "$real_bin" variants "$clip" -o "$work/single" --key "$work/wm.key" "${extra[@]}" >/dev/null
  awk '{ printf "| one machine, no Slurm | %.1f | %.1f | | |\n", $3, $1 + $2 }' "$work/single.time"
fi
for w in $workers; do
  log=$work/times-$w
  : >"$log"
  start=$(now)
  ABMARK_BIN=$work/abmark-timed ABMARK_TIME_LOG=$log \
    bash "$slurm_dir/submit.sh" "$clip" "$work/out-$w" "$n" --key "$work/wm.key" \
    --throttle "$w" --wait -- "${extra[@]}" >/dev/null
  wall=$(awk -v a="$start" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
  awk -v w="$w" -v n="$n" -v wall="$wall" '
    $1 == "assemble" { aw = $4; ac = $2 + $3 }
    $1 != "assemble" { c = $2 + $3; if ($4 > sw) { sw = $4; sc = c } }
    { cpu += $2 + $3 }
    END { printf "| %d chunks, %d at a time | %s | %.1f | %.1f / %.1f | %.1f / %.1f |\n", n, w, wall, cpu, sw, sc, aw, ac }
  ' "$log"
  rm -rf "$work/out-$w" "$work/out-$w.slurm-logs"
done
echo
echo "per chunk (label user sys wall), last run:"
sort -n "$log"
