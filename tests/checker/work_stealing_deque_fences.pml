/* tests/checker/work_stealing_deque_fences.pml — why the Chase–Lev deque's
 * seq_cst fence in pop() is needed, checked by spin under a store-buffer
 * (x86-TSO) memory model.
 *
 * The C++ explorer (work_stealing_deque_checker_test.cpp) runs sequentially
 * consistent executions only, where the fences are no-ops. The fence in
 * pop() orders the owner's store of bottom before its load of top. On x86 a
 * store waits in the core's store buffer while later loads go ahead, so
 * without it: with two items, the owner stores bottom = 1 (buffered), reads
 * top = 0 and takes item 1 without a CAS (it is not the last one); the
 * thief, still seeing bottom = 2, steals item 0 and then item 1 as well.
 * This model gives the owner a one-entry store buffer (the only store it
 * makes before the load), lets the buffer drain at any moment, and makes the
 * fence and the locked CAS drain it first, as MFENCE and LOCK CMPXCHG do.
 *
 * Checked: with the fence, no item is taken twice in any execution; with
 * -DNO_FENCE spin finds the execution above (tests/checker/CMakeLists.txt
 * runs both and expects exactly that). The thief's fence orders two loads,
 * which TSO never reorders, so it is not modelled: it matters on weaker
 * hardware (POWER, ARM), whose argument is the proof the header cites (Lê,
 * Pop, Cohen, Zappa Nardelli, PPoPP 2013).
 */

int top = 0;
int bottom = 2;          /* two items, in slots 0 and 1 */
int buf_value;           /* the owner's store buffer: one pending bottom store */
bool buf_full = false;
byte taken[2];           /* how many times each item was obtained */
bool owner_done = false;
bool thief_done = false;

inline drain() {
  atomic { if :: buf_full -> bottom = buf_value; buf_full = false :: else -> skip fi }
}

proctype store_buffer() {
  /* the buffer drains whenever the hardware likes */
  do
  :: buf_full -> atomic { bottom = buf_value; buf_full = false }
  :: owner_done && !buf_full -> break
  od
}

proctype owner() {
  int b, t;
  /* b = bottom - 1 (store forwarding: read our own pending store first) */
  atomic { if :: buf_full -> b = buf_value - 1 :: else -> b = bottom - 1 fi }
  atomic { buf_value = b; buf_full = true }   /* bottom.store(b, relaxed) */
#ifndef NO_FENCE
  drain();                                    /* atomic_thread_fence(seq_cst) */
#endif
  t = top;                                    /* top.load(relaxed) */
  if
  :: t > b ->                                 /* empty: restore bottom */
     atomic { buf_value = b + 1; buf_full = true }
  :: t == b ->                                /* the last item: race the thief */
     drain();                                 /* the CAS is a locked RMW */
     atomic {
       if
       :: top == t -> top = t + 1; taken[b]++
       :: else -> skip
       fi
     }
     atomic { buf_value = b + 1; buf_full = true }
  :: t < b -> taken[b]++                      /* not the last item: no CAS */
  fi;
  drain();
  owner_done = true
}

proctype thief() {
  int t, b, attempt;
  for (attempt : 1 .. 2) {
    t = top;                                  /* top.load(acquire) */
    /* seq_cst fence: orders two loads, which TSO keeps in order anyway */
    b = bottom;                               /* bottom.load(acquire) */
    if
    :: t < b ->
       atomic {                               /* top CAS t -> t + 1 */
         if
         :: top == t -> top = t + 1; taken[t]++
         :: else -> skip
         fi
       }
    :: else -> skip
    fi
  }
  thief_done = true
}

init {
  atomic { run store_buffer(); run owner(); run thief() }
  (owner_done && thief_done);
  assert(taken[0] <= 1 && taken[1] <= 1)
}
