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

# One line per job or array task of the jobs given: `ID STATE EXITCODE REASON`.
job_states() {
  local id
  for id in "$@"; do
    scontrol -o show job "$id" 2>/dev/null | awk '{
      for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = substr($i, length(kv[1]) + 2) }
      id = f["JobId"]
      if (f["ArrayTaskId"] != "") id = f["ArrayJobId"] "_" f["ArrayTaskId"]
      print id, f["JobState"], f["ExitCode"], f["Reason"]
      delete f
    }' || echo "$id UNKNOWN - no-longer-known"
  done
}

# Blocks until every job given has ended; prints each task's end state on stderr; returns 0
# only if all COMPLETED. A job Slurm no longer knows (purged after MinJobAge) counts as failed.
wait_jobs() {
  local states
  while :; do
    states=$(job_states "$@")
    grep -qE ' (PENDING|RUNNING|CONFIGURING|COMPLETING|SUSPENDED|REQUEUED|RESIZING|SIGNALING|STAGE_OUT) ' <<<"$states" ||
      break
    sleep "${ABMARK_SLURM_POLL:-2}"
  done
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
