#!/bin/sh
# workload_list_fails_loudly.sh GENERATOR MODULE...: the generator of
# savina_workloads.erl (workload_list.cpp), given the workload modules of
# src/, writes the list; without one of them, or with a module that is no
# workload, it exits 1, names the culprit and writes nothing.
set -u
generator=$1
shift
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; cat "$dir/err" >&2; exit 1; }

"$generator" "$dir/all.erl" "$@" 2>"$dir/err" || fail "the generator refused the modules of src/"
for module in "$@"; do
  grep -q ", $module}" "$dir/all.erl" || fail "savina_workloads.erl does not list $module"
done

missing=$1
shift
if "$generator" "$dir/missing.erl" "$@" 2>"$dir/err"; then fail "a workload without its module passed"; fi
grep -q "has no Erlang module: write bench/peers/erlang/src/$missing.erl" "$dir/err" ||
  fail "the error does not name $missing.erl"
[ ! -e "$dir/missing.erl" ] || fail "a list was written anyway"

if "$generator" "$dir/extra.erl" "$missing" "$@" savina_no_such_workload 2>"$dir/err"; then
  fail "a module that is no workload passed"
fi
grep -q "src/savina_no_such_workload.erl is no workload of VOLLEY_SAVINA_WORKLOADS" "$dir/err" ||
  fail "the error does not name savina_no_such_workload.erl"
[ ! -e "$dir/extra.erl" ] || fail "a list was written anyway"
echo "ok"
