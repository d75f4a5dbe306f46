/* tests/checker/idle_workers_fences.pml — why the sleep/wake protocol of
 * engine/src/idle_workers.hpp needs its three seq_cst fences, checked by
 * spin with store buffers.
 *
 * The C++ explorer (idle_workers_checker_test.cpp) runs sequentially
 * consistent executions only, where the fences are no-ops. The protocol is
 * Dekker's store -> load pattern three times over: each side writes its own
 * word, then reads the other's, and one of them must see the other.
 *   notify()            publish the work (a store), fence, read searching_
 *                       and sleeping_: wake a sleeper if nobody searches;
 *   park()              register as a sleeper (sleeping_.fetch_add), fence,
 *                       look at the queues once more before sleeping;
 *   leave_searching()   the last searcher's searching_.fetch_sub, fence,
 *                       look at the queues: wake a worker if work is left.
 * Without a fence a thread's write may wait (in a store buffer) while its
 * later read goes ahead, so both sides can read the old values: the notifier
 * wakes nobody (it saw a searcher, or no sleeper) and the other side saw no
 * work. The item then waits while a worker sleeps: a lost wake-up.
 *
 * The model gives each thread a one-entry store buffer for the write before
 * its fence; a buffer drains to memory at any moment, and a fence drains it
 * first. The RMWs (the counters' fetch_add/fetch_sub) are buffered too: the
 * C++ model lets a relaxed or acq_rel RMW's write become visible to others
 * after a later load of another location is satisfied (ARM, POWER). On x86 a
 * locked RMW is itself a full fence, so there only notify()'s fence is
 * needed; the code targets the C++ model, and so does this model.
 *
 * Threads: the producer pushes one item and notifies (schedule() from
 * outside the pool); worker A is the last searcher: it found work of its own
 * and leaves searching, then runs that work for as long as it likes (it
 * looks for nothing else here: a long handler); worker B parks. The item can
 * only be run by B, so B must end up seeing it, by its look after
 * registering or by a wake. If B sleeps for ever, spin reports an invalid end
 * state (B blocked on its wake word): an error.
 *
 * Abstractions: the sleepers list is under idle_workers' mutex and modelled
 * as atomic steps; sleeping_ only needs "zero or not" here, and it is not
 * decremented (a notifier that reads a stale non-zero count takes the lock,
 * finds the list empty and leaves, as the real one does); the wake word is
 * set in the same step as the sleeper leaves the list (the real notifier
 * stores it right after its unlock, and a sleeper that finds itself taken
 * off the list waits for it: leave_sleepers()). A woken worker that finds no
 * work parks again, with the same look.
 *
 * Checked (tests/checker/CMakeLists.txt): with every fence, no execution
 * loses the wake-up; with -DNO_NOTIFY_FENCE, -DNO_SLEEPER_FENCE or
 * -DNO_SEARCHER_FENCE (each fence removed in turn) spin finds one that does.
 */

byte queued = 0;        /* the run queues: the producer's one item */
byte searching = 1;     /* searching_: A is the last searcher */
bool sleeping = false;  /* sleeping_ != 0 */
bool b_listed = false;  /* B on the sleepers list */
bool b_woken = false;   /* B's wake word */
bool b_ran = false;     /* B found the item */

/* One-entry store buffers: the write each thread makes before its fence. */
byte p_buf; bool p_full = false;   /* the producer's: queued */
byte a_buf; bool a_full = false;   /* A's: searching */
bool b_full = false;               /* B's: sleeping = true */
bool p_done = false;
bool a_done = false;
bool b_done = false;

inline drain_p() { atomic { if :: p_full -> queued = p_buf; p_full = false :: else -> skip fi } }
inline drain_a() { atomic { if :: a_full -> searching = a_buf; a_full = false :: else -> skip fi } }
inline drain_b() { atomic { if :: b_full -> sleeping = true; b_full = false :: else -> skip fi } }

proctype store_buffers() {
  /* the buffers drain whenever the hardware likes */
  do
  :: p_full -> drain_p()
  :: a_full -> drain_a()
  :: b_full -> drain_b()
  :: p_done && a_done && b_done && !p_full && !a_full && !b_full -> break
  od
}

/* notify()'s critical section: take the sleeper off the list, count it as
 * searching (not modelled: nobody reads searching_ after this), wake it. */
inline wake_one() {
  atomic {
    if
    :: b_listed -> b_listed = false; b_woken = true
    :: else -> skip
    fi
  }
}

/* notify() after its fence: wake a sleeper unless somebody searches. */
inline notify_after_fence() {
  if
  :: searching != 0 -> skip          /* a searcher will find the work */
  :: else ->
     if
     :: !sleeping -> skip
     :: else -> wake_one()
     fi
  fi
}

proctype producer() {
  atomic { p_buf = 1; p_full = true }    /* the push: a plain release store */
#ifndef NO_NOTIFY_FENCE
  drain_p();                             /* notify(): fence(seq_cst) */
#endif
  notify_after_fence();
  p_done = true
}

proctype searcher() {
  /* leave_searching(): searching_.fetch_sub(1) == 1, we were the last */
  atomic { a_buf = searching - 1; a_full = true }
#ifndef NO_SEARCHER_FENCE
  drain_a();                             /* fence(seq_cst) */
#endif
  if
  :: queued > 0 ->                       /* work_visible(): notify() */
     drain_a();                          /* notify()'s own fence */
     notify_after_fence()
  :: else -> skip
  fi;
  a_done = true                          /* runs its own work from here on */
}

proctype sleeper() {
  do
  :: /* park(): register_sleeper() */
     atomic { b_listed = true; b_full = true }
#ifndef NO_SLEEPER_FENCE
     drain_b();                          /* fence(seq_cst) */
#endif
     if
     :: queued > 0 ->                    /* work_visible(): leave_sleepers() */
        atomic { b_listed = false };     /* erased, or a notifier took (and woke) us */
        b_ran = true;
        break
     :: else ->
        b_woken;                         /* sleep until the wake word is set */
        b_woken = false;
        if
        :: queued > 0 -> b_ran = true; break
        :: else -> skip                  /* nothing found: park again */
        fi
     fi
  od;
  drain_b();
  b_done = true
}

init {
  atomic { run store_buffers(); run producer(); run searcher(); run sleeper() }
  (p_done && a_done && b_done);
  assert(b_ran)
}
