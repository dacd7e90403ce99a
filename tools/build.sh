#!/usr/bin/env bash
# Builds memsim and runs it, its tests or its benchmarks; installs missing Debian packages
# first. Usage: tools/build.sh run [SCENARIO] | test | sanitize | bench
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake ninja-build g++ libboost-graph-dev libeigen3-dev libyaml-cpp-dev
          libbenchmark-dev doctest-dev libcli11-dev libfmt-dev nlohmann-json3-dev)

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
  *)
    echo "usage: tools/build.sh run [SCENARIO] | test | sanitize | bench" >&2
    exit 2
    ;;
esac
