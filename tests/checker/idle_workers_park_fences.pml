/* tests/checker/idle_workers_park_fences.pml — the fence a searcher that
 * gives up and parks relies on (engine/src/idle_workers.hpp, park()),
 * checked by spin with store buffers, as idle_workers_fences.pml checks the
 * other three.
 *
 * The rule: a searcher that found nothing drops its count (searching_
 * fetch_sub), registers as a sleeper (sleeping_ fetch_add), and after
 * register_sleeper()'s seq_cst fence looks at the queues; if it finds work
 * it comes back counted as searching and takes it. It no longer runs the
 * last searcher's fence and fan-out before registering: the one fence after
 * both writes must do that job. A push that read its count as still
 * searching (and so woke nobody) must then be seen by its look.
 *
 * Threads: the producer pushes one item and notifies (schedule() from
 * outside the pool); worker B is the only searcher, gives up and parks; the
 * item can only be run by B. Worker A sleeps (on the list) from the start,
 * so a notifier that reads no searcher wakes A, who then runs the item:
 * either way somebody must run it, and the assertion at the end says so.
 *
 * Store buffers: B's two RMWs before the fence are buffered together (the
 * C++ model lets relaxed or acq_rel RMWs become visible after a later load
 * of another location is satisfied); the producer's push is buffered
 * before its fence. A fence drains the thread's buffer.
 *
 * Checked (tests/checker/CMakeLists.txt): with the fence, no execution
 * strands the item; with -DNO_SLEEPER_FENCE spin finds one that does (B's
 * look reads the queue before the push lands, while the producer reads B's
 * count before B's decrement lands).
 */

byte queued = 0;        /* the run queues: the producer's one item */
byte searching = 1;     /* searching_: B searches */
bool b_listed = false;  /* B on the sleepers list */
bool a_listed = true;   /* A asleep from the start */
bool b_woken = false;
bool a_woken = false;
bool ran = false;       /* somebody ran the item */

byte p_buf; bool p_full = false;  /* the producer's buffered push */
bool b_full = false;              /* B's buffered writes: searching - 1, listed */
bool p_done = false;
bool b_done = false;

inline drain_p() { atomic { if :: p_full -> queued = p_buf; p_full = false :: else -> skip fi } }
inline drain_b() { atomic { if :: b_full -> searching = searching - 1; b_listed = true; b_full = false :: else -> skip fi } }

proctype store_buffers() {
end_buffers:
  do
  :: p_full -> drain_p()
  :: b_full -> drain_b()
  :: p_done && b_done && !p_full && !b_full -> break
  od
}

proctype producer() {
  atomic { p_buf = 1; p_full = true }  /* the push */
  drain_p();                           /* notify(): fence(seq_cst) */
  if
  :: searching != 0 -> skip            /* a searcher will find it */
  :: else ->
     atomic {                          /* wake the newest sleeper */
       if
       :: b_listed -> b_listed = false; b_woken = true
       :: !b_listed && a_listed -> a_listed = false; a_woken = true
       :: else -> skip
       fi
     }
  fi;
  p_done = true
}

proctype sleeper_a() {
end_a:
  a_woken;                             /* woken: it looks and runs the item */
  atomic { if :: queued > 0 -> queued = 0; ran = true :: else -> skip fi }
}

proctype searcher_b() {
  atomic { b_full = true }             /* fetch_sub(searching_), register */
#ifndef NO_SLEEPER_FENCE
  drain_b();                           /* register_sleeper(): fence(seq_cst) */
#endif
  if
  :: queued > 0 ->                     /* the look: come back searching */
     atomic { b_listed = false };
     atomic { if :: queued > 0 -> queued = 0; ran = true :: else -> skip fi }
  :: else ->
end_b:
     b_woken;                          /* sleep until woken */
     atomic { if :: queued > 0 -> queued = 0; ran = true :: else -> skip fi }
  fi;
  drain_b();
  b_done = true
}

/* Once every thread has finished or sleeps for good (timeout: nothing can
 * move), the item must have run. A worker asleep with nothing queued is a
 * valid end (the end_ labels); one asleep beside a queued item is the lost
 * wake-up, and fails the assertion. */
init {
  atomic { run store_buffers(); run producer(); run sleeper_a(); run searcher_b() }
  if
  :: p_done && b_done
  :: timeout
  fi;
  assert(ran)
}
