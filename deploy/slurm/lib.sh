# Shared by the deploy/slurm submit scripts (sourced, not run): the abmark binary the jobs run,
# absolute paths, and waiting for jobs through `scontrol` (no accounting database needed).
# Callers set `me` (their name, for messages) and `set -euo pipefail`.

die() {
  echo "$me: $*" >&2
  exit 1
}
usage_error() {
  echo "$me: $* (see $me --help)" >&2
  exit 64
}

slurm_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$slurm_dir/../.." && pwd)

# The abmark binary every job runs, as an absolute path: $ABMARK_BIN, else `abmark` on PATH,
# else this checkout's target/release/abmark. Compute nodes must see the same path.
resolve_bin() {
  local bin=${ABMARK_BIN:-}
  if [ -z "$bin" ]; then
    bin=$(command -v abmark || true)
    [ -n "$bin" ] || bin=$repo/target/release/abmark
  fi
  [[ $bin == */* ]] || bin=$(command -v "$bin" || true)
  [ -n "$bin" ] && [ -x "$bin" ] ||
    die "no abmark binary at '${ABMARK_BIN:-$repo/target/release/abmark}' (set ABMARK_BIN or build it: cargo build --release -p abmark-cli)"
  ABMARK_BIN=$(realpath "$bin")
  export ABMARK_BIN
}

# Absolute, as the user spelled it (symbolic links kept: job.json records the source as given).
abs() { realpath -ms -- "$1"; }

require_slurm() {
  command -v sbatch >/dev/null && command -v scontrol >/dev/null ||
    die "sbatch/scontrol not found: install the Slurm client (scripts/setup.sh) or run on a login node"
}

# One line per job or array task of the jobs given: `ID STATE EXITCODE REASON`. A job Slurm no
# longer knows (purged after MinJobAge) is `UNKNOWN`; a controller that does not answer gives
# `UNREACHABLE` (waited out by wait_jobs).
job_states() {
  local id text
  for id in "$@"; do
    if ! text=$(scontrol -o show job "$id" 2>&1); then
      case "$text" in
        *"Invalid job id"*) echo "$id UNKNOWN - no-longer-known" ;;
        *) echo "$id UNREACHABLE - scontrol-failed" ;;
      esac
      continue
    fi
    awk '{
      for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = substr($i, length(kv[1]) + 2) }
      id = f["JobId"]
      if (f["ArrayTaskId"] != "") id = f["ArrayJobId"] "_" f["ArrayTaskId"]
      print id, f["JobState"], f["ExitCode"], f["Reason"]
      delete f
    }' <<<"$text"
  done
}

# Blocks until every job given has ended; prints each task's end state on stderr; returns 0
# only if all COMPLETED. Slurm forgets a finished task after MinJobAge (300 s by default) while
# the rest of a long array still runs, so each task's end state is remembered when first seen.
# A job Slurm no longer knows at all counts as failed; a controller that does not answer for
# 5 minutes ends the wait with an error (the jobs themselves go on).
wait_jobs() {
  local states unreachable=0 line id
  local -A ended=() known=()
  while :; do
    states=$(job_states "$@")
    if grep -q ' UNREACHABLE ' <<<"$states"; then
      unreachable=$((unreachable + 1))
      ((unreachable * ${ABMARK_SLURM_POLL:-2} < 300)) || die "slurmctld has not answered for 5 minutes; the jobs may still run: $*"
      sleep "${ABMARK_SLURM_POLL:-2}"
      continue
    fi
    unreachable=0
    while read -r line; do
      id=${line%% *}
      case "$line" in
        # Purged after it was seen: what was seen stands.
        *" UNKNOWN - no-longer-known") [ -n "${known[$id]:-}" ] && continue ;;
        *) known[${id%%_*}]=1 ;;
      esac
      grep -qE ' (PENDING|RUNNING|CONFIGURING|COMPLETING|SUSPENDED|REQUEUED|RESIZING|SIGNALING|STAGE_OUT) ' <<<" ${line#* } " ||
        ended[$id]=$line
    done <<<"$states"
    grep -qE ' (PENDING|RUNNING|CONFIGURING|COMPLETING|SUSPENDED|REQUEUED|RESIZING|SIGNALING|STAGE_OUT) ' <<<"$states" ||
      break
    sleep "${ABMARK_SLURM_POLL:-2}"
  done
  states=$(printf '%s\n' "${ended[@]}" | sort -V)
  local failed
  failed=$(grep -v ' COMPLETED ' <<<"$states" || true)
  if [ -n "$failed" ]; then
    echo "$me: failed: $(awk '{printf "%s%s %s (exit %s, %s)", sep, $1, $2, $3, $4; sep=", "}' <<<"$failed")" >&2
    return 1
  fi
  echo "$me: done: $(wc -l <<<"$states") job(s) completed" >&2
}

# $1 as a JSON string (quotes and backslashes escaped; paths have no control characters).
json_str() {
  local s=${1//\\/\\\\}
  printf '"%s"' "${s//\"/\\\"}"
}

# Fails with a usage error unless option $1 has a value ($2 = how many arguments are left).
need_value() { (($2 >= 2)) || usage_error "$1 needs a value"; }
