#!/bin/sh
# list_names_every_workload.sh BINARY: --list prints every workload
# as one JSON array, in the suite's order, and exits 0.
set -eu
expected='["ping-pong","counting","fork-join-throughput","fork-join-creation","thread-ring","chameneos","big","concurrent-dictionary","dining-philosophers","logistic-map","bank-transaction","trapezoid","n-queens","fibonacci","concurrent-sorted-list","producer-consumer","sleeping-barber","cigarette-smokers","sieve","quicksort","matrix-multiplication","filter-bank","fan-in-latency"]'
got=$("$1" --list)
if [ "$got" != "$expected" ]; then
  echo "FAIL: --list printed $got" >&2
  exit 1
fi
echo "ok"
