#!/usr/bin/env bash
# volley.sh — the two commands of the README, and a few more.
#
#   ./volley.sh test                 install what is missing, build, run every test:
#                                    the whole suite in a Debug build with ASan+UBSan (LSan
#                                    included), the concurrency tests again under TSan, the
#                                    stress tests at full size in a Release (-O2) build, and
#                                    in a clang build the libraries with -Wthread-safety, clang-tidy,
#                                    and the remote fuzzers (libFuzzer) for a bounded time; first of
#                                    all, clang-format must leave every tracked source unchanged
#   ./volley.sh bench [options]      install, build (Release), run the benchmark suite, write
#                                    results/<machine>/<time>.json and render results/README.md
#                                    (options go to the runner: --full, --only NAME, --workers N,
#                                    --repetitions N, --sizes savina|reference, --sweep-workers,
#                                    --time-budget S)
#   ./volley.sh bundle               build (Release) and write build/volley-suite-<commit>.tar.gz: the
#                                    suite with its own glibc, libraries and Erlang, for a machine
#                                    without packages (extract it, then ./run [runner options])
#   ./volley.sh report               render results/README.md and charts from results/*/*.json
#   ./volley.sh compare A.json B.json
#                                    per-workload ratios between two result files
#   ./volley.sh help                 this text (any other command: this text on stderr, status 2)
#
# Environment: JOBS (parallel build jobs, default: number of CPUs).
set -euo pipefail
cd "$(dirname "$0")"

JOBS=${JOBS:-$(nproc)}

# Debian 12 packages the build, the tests and the suite need.
PACKAGES=(
  cmake ninja-build make g++ clang lld pkg-config git
  libconcurrentqueue-dev libjemalloc-dev libhwloc-dev liburing-dev libssl-dev
  libbenchmark-dev catch2 libcaf-dev nlohmann-json3-dev libcli11-dev
  libclang-rt-14-dev gnuplot-nox iproute2 erlang-base
  clang-format clang-tidy spin
)

ensure_packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -eq 0 ]; then
    echo "volley.sh: installing ${missing[*]}" >&2
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "volley.sh: missing Debian packages. Install them with:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
}

# A stage's header, with the seconds since the script started (CI's budget
# is the whole run: this says which stage spends it).
stage() { echo "== $* [at ${SECONDS} s]" >&2; }

build() {  # build <preset>
  # The presets generate for Ninja; a build folder configured before that
  # (Unix Makefiles) is configured afresh instead of failing on the change.
  local cache=build/$1/CMakeCache.txt
  if [ -f "$cache" ] && ! grep -qx 'CMAKE_GENERATOR:INTERNAL=Ninja' "$cache"; then
    echo "volley.sh: build/$1 was generated for another build tool; configuring it afresh for Ninja" >&2
    rm -rf "$cache" "build/$1/CMakeFiles"
  fi
  cmake --preset "$1" >/dev/null
  cmake --build --preset "$1" -j "$JOBS"
}

# Tracked C++ sources that clang-format 14 must leave unchanged (.clang-format);
# templates (*.hpp.in) are left out: their @VARIABLES@ are not C++.
cxx_sources() { git ls-files '*.cpp' '*.hpp'; }

check_format() {
  stage "clang-format: every tracked C++ source is formatted"
  if ! cxx_sources | xargs clang-format-14 --dry-run -Werror; then
    echo "volley.sh: unformatted sources; run: git ls-files '*.cpp' '*.hpp' | xargs clang-format-14 -i" >&2
    exit 1
  fi
}

# clang-tidy (.clang-tidy) over the libraries' sources, with the clang
# build's compile database; two files at a time.
check_tidy() {
  stage "clang-tidy: the libraries' sources"
  git ls-files 'queues/*.cpp' 'affinity/src/*.cpp' 'engine/src/*.cpp' 'remote/src/*.cpp' |
    xargs -P "$JOBS" -n 4 clang-tidy-14 -p build/clang --quiet
}

cmd_test() {
  ensure_packages
  check_format
  stage "ASan+UBSan build: every test"
  build asan
  ctest --preset asan -j "$JOBS"
  stage "TSan build: concurrency tests"
  build tsan
  ctest --preset tsan -j "$JOBS"
  # The sanitizer runs shrink the stress tests (/16 under ASan, /10 under
  # TSan) to fit their slowdown; here they run at full size, one at a time
  # (each one loads every core), with the benchmark tooling's own tests.
  stage "Release build: stress tests at full size, benchmark tooling tests"
  build release
  ctest --preset release
  stage "clang: libraries with -Wthread-safety -Werror, clang-tidy, libFuzzer 20 s per target"
  build clang
  check_tidy
  # The two fuzzers side by side: each is single-threaded and bounded by
  # time (20 s), so on 2 cores each still gets a core for its 20 s.
  ctest --preset clang -j "$JOBS"
  echo "volley.sh: all tests passed in ${SECONDS} s" >&2
}

RUNNER=build/bench/bench/runner/volley-bench

cmd_bench() {
  ensure_packages
  build bench
  "$RUNNER" run --results-dir results "$@"
  "$RUNNER" report --results-dir results
}

cmd_bundle() {
  ensure_packages
  build bench
  bench/tools/make-bundle.sh build/bench "build/volley-suite-$(git rev-parse --short HEAD).tar.gz"
}

cmd_report() {
  ensure_packages
  [ -x "$RUNNER" ] || build bench
  "$RUNNER" report --results-dir results "$@"
}

cmd_compare() {
  ensure_packages
  [ -x "$RUNNER" ] || build bench
  "$RUNNER" compare "$@"
}

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; }

case "${1:-}" in
  test) shift; cmd_test "$@" ;;
  bench) shift; cmd_bench "$@" ;;
  bundle) shift; cmd_bundle "$@" ;;
  report) shift; cmd_report "$@" ;;
  compare) shift; cmd_compare "$@" ;;
  help | -h | --help) usage ;;
  *) usage >&2; exit 2 ;;
esac
