#!/usr/bin/env bash
# Precision and recall of `abmark analytics` on labelled simulations: several seeds of the
# standard profile, of the other profile, and of changed mixes. Prints a Markdown table.
#   scripts/analytics-eval.sh [WORKDIR]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d)}
cargo build --release -q -p abmark-cli --manifest-path "$here/Cargo.toml"
abmark="$here/target/release/abmark"
echo "| configuration | seed | viewers | abusers | flagged | precision | recall | P@k | missed |"
echo "|---|---|---|---|---|---|---|---|---|"
run() { # NAME SEED VIEWERS ARGS...
  local name=$1 seed=$2 viewers=$3; shift 3
  local d="$work/$name-$seed"
  "$abmark" analytics simulate --out "$d" --viewers "$viewers" --seed "$seed" --force "$@" >/dev/null
  "$abmark" analytics --sessions "$d/sessions.jsonl" --licences "$d/licences.jsonl" \
    --access "$d/access.jsonl" --labels "$d/labels.jsonl" --json >"$d.json"
  python3 - "$d.json" "$name" "$seed" "$viewers" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))["evaluation"]
missed = ", ".join(m.split(" ", 1)[1].strip("()") for m in e["misses"]) or "-"
print(f"| {sys.argv[2]} | {sys.argv[3]} | {sys.argv[4]} | {e['abusers']} | {e['flagged']} | "
      f"{e['precision']:.3f} | {e['recall']:.3f} | {e['precision_at_k']:.3f} | {missed} |")
PY
}
for seed in 1 2 3; do run standard "$seed" 1000 --profile standard; done
for seed in 1 2 3; do run other "$seed" 2000 --profile other; done
for seed in 1 2; do
  run "standard, NAT 10, 5 % rippers, 1 % sharers" "$seed" 1000 --nat-size 10 --ripper-share 0.05 --sharer-share 0.01
  run "other, 4-s segments, 8 % sharers" "$seed" 2000 --profile other --segment-seconds 4 --sharer-share 0.08
done
