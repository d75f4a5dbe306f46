/* tests/checker/stage_handshake_fences.pml — why the staged-send handshake
 * (remote/src/stage_handshake.hpp) needs both halves of its asymmetric
 * fence, checked by spin with store buffers.
 *
 * The C++ explorer (staged_send_checker_test.cpp) runs sequentially
 * consistent executions only, where fences are no-ops. The handshake is
 * Dekker's store -> load pattern: the owner stores busy and loads takeover,
 * a sweeper stores takeover (its claim) and loads busy, and one of them
 * must see the other. The owner has only a compiler fence between its two
 * accesses; the sweeper calls membarrier(PRIVATE_EXPEDITED), which runs a
 * full fence on every thread of the process that is running at that moment
 * (and on the caller). So:
 *   - the owner's store may wait in its store buffer while its load goes
 *     ahead, unless a membarrier drains it in between;
 *   - the compiler fence keeps the compiler from moving the load above the
 *     store: without it the load may be done before the store is even
 *     issued, and no membarrier between them can help.
 * A thread that is not running has no store buffered, so "every running
 * thread" is modelled as "the owner", whatever it is doing.
 *
 * The model gives each side a one-entry store buffer for its store; a
 * buffer drains to memory at any moment (the process `buffers`). The
 * sweeper's claim is an exchange, an RMW, whose write the C++ model lets
 * become visible after a later load (ARM, POWER): it is buffered too.
 *
 * Checked (tests/checker/CMakeLists.txt): with both halves, the owner and the
 * sweeper never hold the chain together; with -DNO_SWEEPER_FENCE (no
 * membarrier) or -DNO_OWNER_FENCE (the compiler moved the owner's load
 * above its store) spin finds an execution in which both do.
 */

bit busy = 0;
bit takeover = 0;
bit owner_buffered = 0;    /* the owner's busy = 1, not yet in memory */
bit sweeper_buffered = 0;  /* the sweeper's takeover = 1, not yet in memory */
byte holders = 0;          /* threads touching the chain */

active proctype buffers() {
end:
  do
  :: atomic { owner_buffered -> busy = 1; owner_buffered = 0 }
  :: atomic { sweeper_buffered -> takeover = 1; sweeper_buffered = 0 }
  od
}

active proctype owner() {
  bit seen;
#ifdef NO_OWNER_FENCE
  if
  :: owner_buffered = 1; seen = takeover
  :: seen = takeover; owner_buffered = 1   /* moved by the compiler */
  fi;
#else
  owner_buffered = 1;   /* busy = true (relaxed), then the compiler fence */
  seen = takeover;      /* acquire load */
#endif
  if
  :: seen == 0 ->       /* the chain is the owner's */
     holders++;
     assert(holders == 1);
     holders--
  :: else -> skip       /* it waits for the sweeper: not modelled further */
  fi
}

active proctype sweeper() {
  sweeper_buffered = 1;  /* the claim: takeover.exchange(true) */
#ifndef NO_SWEEPER_FENCE
  atomic {               /* membarrier: a full fence on every running thread */
    if
    :: owner_buffered -> busy = 1; owner_buffered = 0
    :: else -> skip
    fi;
    if
    :: sweeper_buffered -> takeover = 1; sweeper_buffered = 0
    :: else -> skip
    fi
  }
#endif
  if
  :: busy == 0 ->        /* the owner is not in a send: take the chain */
     holders++;
     assert(holders == 1);
     holders--
  :: else -> skip
  fi
}
