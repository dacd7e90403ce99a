#!/usr/bin/env bash
# Runs each libFuzzer harness in build-fuzz (tools/build.sh fuzz builds them) for SECONDS:
# on its seeds (the shipped scenarios, the catalogue of bad inputs, the test fixtures) and the
# corpus earlier runs grew in build-fuzz/corpus. A finding stops the run and stays in
# build-fuzz/findings; reproduce it with build-fuzz/tests/fuzz/HARNESS FILE, then add it to
# tests/catalogue. Usage: tools/fuzz.sh SECONDS [HARNESS...]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:?usage: tools/fuzz.sh SECONDS [HARNESS...]}
shift
harnesses=("$@")
((${#harnesses[@]})) || harnesses=(fuzz_scenario fuzz_hf_config fuzz_set fuzz_where)

# seeds HARNESS DIR: the committed inputs that HARNESS starts from, copied into DIR.
seeds() {
  local dir=$2
  rm -rf "$dir" && mkdir -p "$dir"
  case "$1" in
    fuzz_scenario) cp scenarios/*.yaml tests/catalogue/inputs/*.yaml "$dir" ;;
    fuzz_hf_config) cp tests/fixtures/hf/*.json tests/catalogue/inputs/*.json "$dir" ;;
    fuzz_set) cp tests/fuzz/seeds/set/* "$dir" ;;
    fuzz_where) cp tests/fuzz/seeds/where/* "$dir" ;;
  esac
}

mkdir -p build-fuzz/findings
for harness in "${harnesses[@]}"; do
  corpus=build-fuzz/corpus/$harness
  mkdir -p "$corpus"
  seeds "$harness" "build-fuzz/seeds/$harness"
  options=(-max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 -max_len=8192
           -print_final_stats=1 -artifact_prefix="build-fuzz/findings/$harness-")
  [[ $harness == fuzz_scenario ]] && options+=(-dict=tests/fuzz/scenario.dict)
  echo "== $harness for $seconds s" >&2
  "build-fuzz/tests/fuzz/$harness" "${options[@]}" "$corpus" "build-fuzz/seeds/$harness" \
    2> "build-fuzz/$harness.log" || {
    tail -n 40 "build-fuzz/$harness.log" >&2
    echo "$harness: a finding, in build-fuzz/findings" >&2
    exit 1
  }
  grep -E "stat::number_of_executed_units|Done" "build-fuzz/$harness.log" >&2 || true
done
