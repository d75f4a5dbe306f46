#!/usr/bin/env python3
"""sched-counts.py: the scheduler's counters per 1000 messages, over a worker sweep.

Runs a volley-savina built with -DVOLLEY_SCHED_STATS=1 (README, "To see where
a pool's time goes") on each workload at each worker count, REPS times, and
prints the medians of its counters divided by the messages (or actors) the
run handled: futex wakes, parks, injection-queue pushes, batches taken and
polls, steal() attempts, searches, searchers not admitted, notify() calls,
activations, wakes by a last searcher's fan-out, parking searchers that
came back searching, deque steals and the cells they moved, thefts of stale
LIFO occupants, activations on another worker than the cell's previous one
(moves), hand-backs, the searches' sched_yield calls, the process's futex
wakes (by workers, by other threads) and waits, and the outside senders'
envelope naps (outrun_naps). Counts, not times: what they say holds on a loaded
machine, though how a run interleaves still moves them, hence the medians.

  bench/tools/sched-counts.py build/stats/bench/volley-savina --workers 1 2 4 8 16
  VOLLEY_WAKE_RULES=0 bench/tools/sched-counts.py ...   # the rules before issue 11's fork-join work

The sizes are smaller than the suite's (a sweep to 16 workers on a small
machine stays within minutes); --param overrides one, as volley-savina's
own option does.
"""
import argparse
import json
import re
import resource
import subprocess
import sys

SIZES = {
    "fork-join-throughput": ["messages=100000"],
    "fork-join-creation": ["actors=400000"],
    "counting": ["messages=5000000"],
    "ping-pong": ["pings=1000000"],
    "thread-ring": ["hops=3000000"],
    # The conversations of issue 11's worker sweep, at the suite's sizes.
    "big": [],
    "dining-philosophers": [],
    "concurrent-dictionary": [],
    "chameneos": [],
}
KEYS = ["wakes", "parks", "injected", "injection", "injection_polls", "steal_attempts", "searches",
        "unadmitted", "notifies", "activations", "fanout_wakes", "park_fanout_wakes",
        "returned_searching", "steals", "stolen", "lifo_thefts", "moves", "handbacks",
        "search_yields", "futex_wakes_by_workers", "futex_wakes_by_others", "futex_waits",
        "outrun_naps"]


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def run_once(binary, workload, workers, params):
    cmd = [binary, "--workload", workload, "--workers", str(workers), "--deadline", "120"]
    for p in params:
        cmd += ["--param", p]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {proc.returncode}: {proc.stderr[-300:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    messages = result["messages"]
    totals = dict.fromkeys(KEYS, 0.0)
    pools = 0
    for line in proc.stderr.splitlines():
        # The pool's line, and the moves line that follows it.
        if line.startswith("volley-sched-stats") or line.startswith("  moves="):
            pools += line.startswith("volley-sched-stats")
            fields = dict(re.findall(r"(\w+)=([\d.]+)", line))
            for k in KEYS:
                totals[k] += float(fields.get(k, 0))
    if pools == 0:
        raise RuntimeError(f"{binary} printed no volley-sched-stats line: not a VOLLEY_SCHED_STATS build")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result["throughput"] / 1e6, 1e9 * cpu / messages, [1000 * totals[k] / messages for k in KEYS]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary", help="volley-savina built with -DVOLLEY_SCHED_STATS=1")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    ap.add_argument("--workloads", nargs="+", default=list(SIZES), choices=list(SIZES))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--param", action="append", default=[], help="key=value, as volley-savina's")
    args = ap.parse_args()
    if args.reps < 1:
        ap.error("--reps must be at least 1")
    print(f"workload workers M/s cpu-ns/msg | {' '.join(KEYS)}  (per 1000 messages, medians of {args.reps})")
    for workload in args.workloads:
        params = SIZES[workload] + args.param
        for workers in args.workers:
            rows = [run_once(args.binary, workload, workers, params) for _ in range(args.reps)]
            per = " ".join(f"{median(r[2][i] for r in rows):.2f}" for i in range(len(KEYS)))
            print(f"{workload} {workers} {median(r[0] for r in rows):.2f} {median(r[1] for r in rows):.0f} | {per}",
                  flush=True)


if __name__ == "__main__":
    try:
        main()
    except RuntimeError as e:
        print(f"sched-counts: {e}", file=sys.stderr)
        sys.exit(1)
