#!/usr/bin/env bash
# How long, and how much memory, `berth check` takes on hostile and large registries under
# 1 MiB: deep nesting, a slot bomb, 10,000 services, 65,000 colliding slots, an endless
# file. With BASELINE_REV, the same inputs run side by side with that revision's berth,
# each capped at 60 s and 3 GB so the baseline cannot take the machine down.
# Usage: bash bench/check_bounds.sh [BASELINE_REV]
set -euo pipefail
cd "$(dirname "$0")/.."
baseline_rev=${1:-}
work=$(mktemp -d)
trap 'if [ -n "$baseline_rev" ]; then git worktree remove --force "$work/baseline" || true; fi; rm -rf "$work"' EXIT

cargo build --release -q
cp target/release/berth "$work/current"
if [ -n "$baseline_rev" ]; then
  git worktree add -q --detach "$work/baseline" "$baseline_rev"
  cargo build --release -q --manifest-path "$work/baseline/Cargo.toml" --target-dir "$PWD/target/baseline"
  cp target/baseline/release/berth "$work/baseline-berth"
fi

python3 - "$work" <<'PY'
import sys
work = sys.argv[1]
def write(name, text):
    with open(f"{work}/{name}.yaml", "w") as file:
        file.write(text)
write("deep-sequences", "a: " + "[" * 100_000 + "]" * 100_000 + "\n")
write("deep-maps", "a: " + "{a: " * 60_000 + "}" * 60_000 + "\n")
write("slot-bomb", "environments:\n" + "".join(f"  e{i}: 0\n" for i in range(7))
      + "".join(f"s{i}:\n  a_port: 1\n  b_port: 2\n  c_port: 3\n  instance_increment: 1\n  max_instances: 65535\n" for i in range(30)))
write("10k-services", "".join(f"s{i}:\n  port: {1024 + i * 6}\n  max_instances: 1\n" for i in range(10_000)))
write("65k-colliding-slots", "defaults:\n  instance_increment: 1\n  max_instances: 50\n"
      + "".join(f"s{i}:\n  port: {2000 + i % 100}\n" for i in range(1300)))
PY

measure() { # binary input -> "seconds, MB" or how it ended
  local binary=$1 input=$2 seconds kilobytes status
  ( ulimit -v 3000000; /usr/bin/time -o "$work/stats" -f '%e %M %x' timeout 60 "$binary" --registry "$input" check >/dev/null 2>&1 ) || true
  read -r seconds kilobytes status < <(tail -1 "$work/stats")
  case $status in
    124) echo "killed after 60 s" ;;
    134) echo "aborted after $seconds s: out of memory at the 3 GB cap" ;;
    *) echo "$seconds s, $((kilobytes / 1024)) MB (exit $status)" ;;
  esac
}

printf '| input | size | this revision |%s\n' "${baseline_rev:+ $baseline_rev |}"
printf '|---|---:|---:|%s\n' "${baseline_rev:+---:|}"
for input in deep-sequences deep-maps slot-bomb 10k-services 65k-colliding-slots endless; do
  if [ "$input" = endless ]; then file=/dev/zero; size="endless"; else file="$work/$input.yaml"; size="$(( $(stat -c %s "$file") / 1024 )) KiB"; fi
  row="| $input | $size | $(measure "$work/current" "$file") |"
  if [ -n "$baseline_rev" ]; then row="$row $(measure "$work/baseline-berth" "$file") |"; fi
  echo "$row"
done
