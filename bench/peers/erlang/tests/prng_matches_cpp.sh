#!/bin/sh
# prng_matches_cpp.sh CPP_REFERENCE ERL EBIN TEST_EBIN: the Erlang
# splitmix64 must print exactly what the C++ pseudo_random prints.
set -eu
cpp=$("$1")
erlang=$("$2" -noshell -noinput -pa "$3" -pa "$4" -eval 'savina_random_sequence:print(), halt().')
if [ "$cpp" != "$erlang" ]; then
  echo "FAIL: the Erlang splitmix64 differs from the C++ one" >&2
  dir=$(mktemp -d)
  echo "$cpp" >"$dir/c++.txt"
  echo "$erlang" >"$dir/erlang.txt"
  diff "$dir/c++.txt" "$dir/erlang.txt" >&2 || true
  rm -rf "$dir"
  exit 1
fi
echo "ok: $(echo "$cpp" | wc -l) lines equal"
