#!/bin/sh
# tests/checker/run_spin.sh <spin> <cc> <model.pml> <expect: holds|violated> [spin -D options...]
# Generates the verifier for a Promela model, runs an exhaustive search, and
# checks its verdict: `holds` wants 0 errors, `violated` wants an error (an
# assertion violation, or an invalid end state: a thread blocked for ever);
# a known-bad variant must be caught.
set -eu
spin=$1 cc=$2 model=$3 expect=$4
shift 4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$model" "$work/model.pml"
cd "$work"
"$spin" "$@" -a model.pml >/dev/null
"$cc" -O1 -DSAFETY -o pan pan.c
./pan >out.txt 2>&1 || true
grep -E "errors:|assertion violated|invalid end state|states, stored" out.txt || true
if grep -q "errors: 0" out.txt; then verdict=holds; else verdict=violated; fi
if [ "$verdict" != "$expect" ]; then
  echo "expected the model to be $expect, spin says $verdict"
  exit 1
fi
echo "as expected: $verdict"
