#!/bin/sh
# One erlang-savina run, checked: run_workload.sh BINARY EXPECTED_STATUS ARGS...
#
# Status 0: stdout must be exactly one JSON line with the fields every
# workload binary prints (workload_main.hpp), runtime "erlang", the
# percentiles for fan-in-latency, and the emulator's config.
# Status 2: a wrong result, with the reason on stderr and nothing on stdout.
# Status 1: a usage error, with the reason on stderr.
set -u
binary=$1
expected=$2
shift 2
out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

"$binary" "$@" >"$out" 2>"$err"
status=$?
fail() {
  echo "FAIL: $*" >&2
  echo "--- command: $binary $*" >&2
  echo "--- stdout:" >&2; cat "$out" >&2
  echo "--- stderr:" >&2; cat "$err" >&2
  exit 1
}
[ "$status" -eq "$expected" ] || fail "exit status $status, expected $expected"

workload=
previous=
for arg in "$@"; do
  if [ "$previous" = --workload ]; then workload=$arg; fi
  previous=$arg
done

case $expected in
  0)
    [ "$(wc -l <"$out")" -eq 1 ] || fail "stdout is not exactly one line"
    number='-?[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)?'
    for pattern in \
      "^\\{\"workload\":\"$workload\",\"runtime\":\"erlang\",\"workers\":[1-9][0-9]*,\"sizes\":\"(reference|savina)\",\"params\":\\{" \
      "\"elapsed_s\":$number," "\"messages\":[1-9][0-9]*," "\"throughput\":$number," "\"unit\":\"[a-z-]+/s\"" \
      "\"config\":\\{\"otp_release\":\"[0-9]+\"" "\"busy_wait\":\\{\"sbwt\":\"none\",\"sbwtdcpu\":\"none\",\"sbwtdio\":\"none\"\\}" \
      '\}\}$'; do
      grep -Eq "$pattern" "$out" || fail "the JSON line does not match $pattern"
    done
    if [ "$workload" = fan-in-latency ]; then
      grep -Eq '"p50_ns":[0-9]+,"p99_ns":[0-9]+,"p999_ns":[0-9]+,"max_ns":[0-9]+,"samples":[1-9][0-9]*' "$out" ||
        fail "fan-in-latency has no percentiles"
    fi
    # elapsed_s must be positive: a run that timed nothing measured nothing.
    grep -Eq '"elapsed_s":(0\.0*[1-9]|[1-9])' "$out" || fail "elapsed_s is not positive"
    ;;
  2)
    [ ! -s "$out" ] || fail "a wrong result still printed a result line"
    grep -q "WRONG RESULT" "$err" || fail "stderr does not say WRONG RESULT"
    ;;
  1)
    [ ! -s "$out" ] || fail "a usage error still printed a result line"
    [ -s "$err" ] || fail "a usage error gave no reason on stderr"
    ;;
esac
echo "ok: exit $status"
