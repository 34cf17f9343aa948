#!/usr/bin/env bash
# Whole-process lookup, side by side in one run: `berth port kafka broker_port -i 1`
# against the seeds' way, a one-line Python/PyYAML lookup of the same registry file.
# Needs hyperfine (Debian's package) and creates .venv with PyYAML for the Python side.
# Usage: bash bench/port_lookup.sh [extra hyperfine flags]
set -euo pipefail
cd "$(dirname "$0")/.."

command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine; }
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -c 'import yaml' 2>/dev/null || .venv/bin/pip install -q pyyaml

cargo build --release -q
registry=dynamicconfig/port_registry.yaml
berth_cmd="target/release/berth --registry $registry port kafka broker_port -i 1"
python_cmd=".venv/bin/python -c \"import yaml; s = yaml.safe_load(open('$registry'))['kafka']; print(s['broker_port'] + 1 * s['instance_increment'])\""

# Both must print the same port before they are timed.
[ "$(eval "$berth_cmd")" = "$(eval "$python_cmd")" ] || { echo "berth and Python disagree" >&2; exit 1; }

hyperfine --warmup 20 --min-runs 200 -N "$@" \
  --export-json target/port_lookup.json \
  -n "berth port" "$berth_cmd" \
  -n "python + PyYAML" "$python_cmd"
python3 - <<'PY'
import json
results = {r["command"]: r for r in json.load(open("target/port_lookup.json"))["results"]}
berth, python = results["berth port"], results["python + PyYAML"]
print("| command | median | mean | min | runs |")
print("|---|---:|---:|---:|---:|")
for name, r in results.items():
    print(f"| {name} | {r['median']*1000:.2f} ms | {r['mean']*1000:.2f} ms | {r['min']*1000:.2f} ms | {len(r['times'])} |")
print(f"median ratio python/berth: {python['median'] / berth['median']:.1f}x")
PY
