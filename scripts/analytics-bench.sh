#!/usr/bin/env bash
# Measures `abmark analytics` on a simulated day of traffic of about 10^7 log lines: wall time
# and peak memory (GNU time), printed with the line counts. Release build; not a test.
#   scripts/analytics-bench.sh [VIEWERS] [WORKDIR]     (2800 viewers ~ 10^7 lines, ~3.3 GB)
set -euo pipefail
viewers=${1:-2800}
work=${2:-$(mktemp -d)}
here=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release -q -p abmark-cli --manifest-path "$here/Cargo.toml"
abmark="$here/target/release/abmark"
"$abmark" analytics simulate --out "$work/sim" --viewers "$viewers" --seed 7 --force
lines=$(cat "$work"/sim/{sessions,licences,access}.jsonl | wc -l)
echo "lines: $lines"
/usr/bin/time -f "wall %e s, user %U s, sys %S s, max RSS %M KiB" \
  "$abmark" analytics --sessions "$work/sim/sessions.jsonl" --licences "$work/sim/licences.jsonl" \
  --access "$work/sim/access.jsonl" --labels "$work/sim/labels.jsonl" \
  --html "$work/report.html" --suspects "$work/suspects.txt" --json >"$work/analytics.json"
python3 -c "import json,sys; e=json.load(open(sys.argv[1]))['evaluation']; print('precision', e['precision'], 'recall', e['recall'])" "$work/analytics.json"
echo "outputs in $work"
