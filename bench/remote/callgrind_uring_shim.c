// Lets remote_bench run under valgrind --tool=callgrind (instructions per
// message per thread, the load-robust figure on a machine without hardware
// counters). Valgrind 3.19 (Debian 12) does not treat io_uring_enter with
// IORING_ENTER_GETEVENTS as a syscall that may block: the thread waiting in
// it keeps valgrind's lock and the program hangs as soon as two threads
// need each other. This LD_PRELOAD shim replaces the transport's only
// waiting call, io_uring_submit_and_wait_timeout, with a non-blocking
// submit-and-get-events and a poll() of the ring fd of at most 1 ms (which
// valgrind knows may block), and refuses the registered ring fd so that the
// fd can be polled. Not a product file: nothing builds or links it.
//
//   gcc -O2 -shared -fPIC -o /tmp/uring_shim.so bench/remote/callgrind_uring_shim.c -luring
//   for n in 100000 300000; do LD_PRELOAD=/tmp/uring_shim.so valgrind --tool=callgrind
//     --separate-threads=yes --callgrind-out-file=cg_$n.out
//     build/bench/bench/remote/remote_bench $n 10 volley --no-tls --only=one_way; done
//   (one line)
//
// Per message: (thread's total at 300000 - at 100000) / 200000, which takes
// start-up and shut-down out. Threads of that run: -01 the sending thread,
// -03 A's worker, -05 B's worker, -06 A's loop, -07 B's loop (B's loop is
// the one whose profile shows node_core::on_frame). Valgrind runs one thread
// at a time and ~50x slower, so anything timed changes: the sending thread
// flushes its stage per frame (its 50 us gap passes between two sends)
// instead of per 32 frames, so its count is higher than in a native run;
// the receiving side's per-frame work is not timed.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <liburing.h>
#include <poll.h>

int io_uring_register_ring_fd(struct io_uring* ring) {
  (void)ring;
  return -EINVAL;
}

int io_uring_submit_and_wait_timeout(struct io_uring* ring, struct io_uring_cqe** cqe_ptr,
                                     unsigned wait_nr, struct __kernel_timespec* ts,
                                     sigset_t* sigmask) {
  (void)sigmask;
  (void)wait_nr;
  static int (*get_events)(struct io_uring*);
  if (!get_events)
    get_events = (int (*)(struct io_uring*))dlsym(RTLD_NEXT, "io_uring_submit_and_get_events");
  int rc = get_events(ring);
  if (io_uring_cq_ready(ring) == 0) {
    int ms = ts && ts->tv_sec == 0 && ts->tv_nsec < 1000000 ? 0 : 1;
    struct pollfd p = {ring->ring_fd, POLLIN, 0};
    poll(&p, 1, ms);
    rc = get_events(ring);
  }
  if (io_uring_cq_ready(ring) == 0) return -ETIME;
  if (cqe_ptr) io_uring_peek_cqe(ring, cqe_ptr);
  return rc < 0 ? rc : 0;
}
