#!/usr/bin/env bash
# Builds memsim and runs it, its tests, its benchmarks or its fuzzers; installs missing Debian
# packages first. Usage: tools/build.sh run [SCENARIO] | test | sanitize | bench | fuzz SECONDS
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake ninja-build g++ libboost-graph-dev libeigen3-dev libyaml-cpp-dev
          libbenchmark-dev doctest-dev libcli11-dev libfmt-dev nlohmann-json3-dev
          libjemalloc-dev pkgconf)

install_missing() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  echo "Installing: ${missing[*]}" >&2
  local sudo=()
  ((EUID == 0)) || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# configure_and_build DIR [cmake options...]
configure_and_build() {
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
  cmake --build "$dir"
}

command=${1:-run}
# libFuzzer comes with clang and its runtime libraries.
[[ $command == fuzz ]] && packages+=(clang libclang-rt-14-dev)
install_missing
case "$command" in
  run)
    configure_and_build build -DCMAKE_BUILD_TYPE=Release
    ./build/memsim run "${2:-scenarios/deepseek-32b-4xa100.yaml}"
    ;;
  test)
    configure_and_build build -DCMAKE_BUILD_TYPE=Release
    ctest --test-dir build --output-on-failure
    ;;
  sanitize)
    configure_and_build build-asan -DCMAKE_BUILD_TYPE=Debug -DMEMSIM_SANITIZE=ON \
      -DMEMSIM_BUILD_BENCHMARKS=OFF
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      ctest --test-dir build-asan --output-on-failure
    ;;
  bench)
    configure_and_build build -DCMAKE_BUILD_TYPE=Release
    ./build/memsim_bench "${@:2}"
    ;;
  fuzz)
    CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DMEMSIM_FUZZ=ON -DMEMSIM_BUILD_TESTS=OFF -DMEMSIM_BUILD_BENCHMARKS=OFF >/dev/null
    cmake --build build-fuzz --target fuzz_scenario fuzz_hf_config fuzz_set fuzz_where
    tools/fuzz.sh "${2:?usage: tools/build.sh fuzz SECONDS (per harness)}"
    ;;
  *)
    echo "usage: tools/build.sh run [SCENARIO] | test | sanitize | bench | fuzz SECONDS" >&2
    exit 2
    ;;
esac
