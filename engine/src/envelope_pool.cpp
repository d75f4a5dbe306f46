// engine/src/envelope_pool.cpp — allocation of envelopes.
//
// Every message costs one allocation, from thread caches of recycled blocks
// (block_cache.hpp, whose essay says why and what was measured). A block
// that no cache holds is cut from a chunk of the envelopes' own
// (chunk_source.hpp, which says why: a producer that outruns its frees),
// and one beyond the depot's cap goes back to its chunk. Cells have a pool
// of their own, of the same kind (cell_pool.cpp); sizes above the largest
// class go to jemalloc directly.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <volley/engine/ask.hpp>  // on_worker_thread
#include <volley/engine/detail/envelope.hpp>
#include <volley/engine/system.hpp>  // pace_this_thread

#include "allocator_numa.hpp"
#include "block_cache.hpp"
#include "chunk_source.hpp"
#include "envelope_pool.hpp"

namespace volley::detail {

namespace {

using namespace pool;

/// Envelopes' chunks and depot (the cells' are cell_pool.cpp's).
struct envelope_chunks {
  // A sender that outruns its frees cuts 64 envelopes at a time.
  static constexpr bool refill = true;
  static constexpr bool refill_opens_chunks = true;
  static chunk_registry& registry() {
    static chunk_registry* r =
        new chunk_registry(0x766f6c65, "envelope_free", huge_pages_asked());  // "vole"
    return *r;
  }
  static bool huge_pages_asked();
  static depot* depots() {
    static depot* d = new depot[class_count];  // never destroyed, as the registry
    return d;
  }
  static void arm_thread_exit();
  /// The depot is empty: wait for a magazine to come back (true), or let
  /// the caller cut fresh blocks (false).
  static bool wait_for_returns(const depot& d) noexcept;
  /// The caller's refill cut `n` fresh blocks of class `c`: counted in
  /// outrun_cut_bytes and envelope_bytes_cut.
  static void note_cut(std::size_t c, std::uint32_t n) noexcept;
  // The thread is exiting, or the main thread runs static destructors (a
  // system shut down there tells every actor to stop): a shared chunk.
  // Counted in envelope_bytes_cut as a refill's blocks are.
  static void* late_alloc(std::size_t c);
};

using envelope_source = chunk_source<envelope_chunks>;

// How many blocks ahead alloc() asks for the next envelope's line
// (block_cache.hpp; the cache's `lookahead`). A worker's blocks mostly
// come back to it from its own actors' frees, or stay on its core's side,
// so one ahead is enough. A thread outside the workers (main() telling actors, the timer, a remote
// loop) gets every block from the depot: the workers read it there, so
// its line is shared with another core, and the sender's first store to
// it must take it back (fork-join throughput: perf put 43-59% of main's
// samples in deliver() on the mailbox exchange, which waits for those
// stores). One tell ahead (~20 ns, ~60 ns on the AMD VM's slow cross-core
// mode, a ~160 ns transfer each way) hides little of that; 8 ahead gives
// the line 150-500 ns. Measured in "Outside senders ask for envelopes 8
// ahead" (git log): deliver 29-45% of main's samples.
constexpr std::uint32_t outside_lookahead = 8;

constexpr thread_cache<envelope_source> outside_thread_cache() noexcept {
  thread_cache<envelope_source> cache;
  cache.lookahead = outside_lookahead;  // a worker sets 1 (enter_worker_thread)
  return cache;
}

// No destructor, so no registration test on each access (block_cache.hpp).
constinit thread_local thread_cache<envelope_source> envelope_cache = outside_thread_cache();

// Flushes envelope_cache when the thread exits, once a slow path armed it.
thread_local thread_cache_exit<thread_cache<envelope_source>> envelope_exit;

// Envelope chunks are small pages unless VOLLEY_HUGE_PAGES=1 asks for huge
// ones (chunk_source.hpp: what each costs, and why small is the default).
// Read once, at the pool's first envelope; a value it does not know stops
// the process there, naming the variable, rather than run with a setting
// the user did not mean.
bool envelope_chunks::huge_pages_asked() {
  const char* v = std::getenv("VOLLEY_HUGE_PAGES");
  if (v == nullptr || std::strcmp(v, "") == 0 || std::strcmp(v, "0") == 0) return false;
  if (std::strcmp(v, "1") == 0) return true;
  std::fprintf(stderr,
               "volley: VOLLEY_HUGE_PAGES=%s is not a setting: use 1 to back envelope memory "
               "with transparent huge pages, or 0 (or leave it unset) for small pages\n",
               v);
  std::abort();
}

void envelope_chunks::arm_thread_exit() {
  envelope_exit.cache = &envelope_cache;  // the first use registers its destructor
}

// -- a sender that outruns its receivers ---------------------------------
//
// A thread that is not a worker (main(), a remote loop, the timer) can send
// faster than the workers handle its messages: Savina's fork-join
// throughput, where main tells 60 actors round-robin. Its envelopes are
// then never recycled: every one is cut fresh from a chunk (with small
// pages, a page fault per 64 of them), and the backlog grows past every
// cache, so each receiver's walk down its mailbox, one envelope's link at
// a time, misses to DRAM per message. That is a second, stable state: the
// slower the receivers get, the more the sender runs ahead. On the 2-core AMD VM
// (results/amd-epyc-2c) every fork-join repetition whose RSS stayed below
// 20 MB ran at 13-17 M msg/s on 2 workers, every one that grew to 80-750 MB
// at 6-11 M; on the Intel VM, 2 workers stayed below 20 MB (22 M msg/s)
// and 1 worker grew to 500 MB (10 M).
//
// So once such a thread has itself cut `outrun_bound_bytes` of fresh
// envelopes, whenever its caches and the depot are empty it waits up to
// `outrun_wait` for a magazine to come back to the depot (Erlang's send
// penalty, in spirit): the wait ends at the first look (one per 50 µs nap)
// that finds the receivers have freed 64 envelopes, and its pace becomes
// theirs while the backlog stays in cache. It never blocks a tell: a wait
// that sees nothing come back cuts fresh blocks as before, and the next
// few refills do not wait: 4 after one such wait, twice as many
// after each further one in a row, up to 64. A receiver off its CPU for a
// moment then costs 256 fresh envelopes, and the next wait that sees a
// return starts the count afresh; receivers that keep what they get (a
// stash) cost the sender 2 ms per 4096 envelopes, 0.5 µs each, after the
// first five waits. At most 64: on a loaded machine the workers lose their
// CPUs for several waits in a row, and a longer skip let the sender run
// ahead again. Workers never wait: the envelopes they would wait for may
// be in their own actors' mailboxes.
//
// Only while a pool's workers take every CPU the process may use
// (count_crowded_pool: the scheduler counts its pools in and out). Then the
// sender runs on a worker's core, and what it spends there building a
// backlog that worker pays for twice: the CPU, and the misses when it
// drains that backlog. A sender with a core of its own takes nothing from
// the workers, and where the cores' caches are far apart (the AMD VM's
// slow mode, a 330 ns round trip) a worker read the backlog from DRAM
// faster than from the sender's cache: fork-join on 1 worker with the wait
// took 1.2-1.6x the wall time and twice the CPU (load ~7, bound 2-128 MiB).
//
// 2 MiB: 32k envelopes of 64 B, 530 messages for each of fork-join's 60
// actors, eight activations' worth; the workers never ran dry. Fork-join
// on 2 workers, 3 interleaved rounds (load ~7.5, slow mode), wall s per
// run by bound: 2 MiB 1.0-1.6, 4 MiB 1.3-2.7, 8 MiB 2.4-2.7, 32 MiB 4.3,
// 128 MiB 6.1, none 8.2; 1 MiB no better than 2. (Measured as a bound on
// the pool's live chunks, then 1 MiB each. Chunks are 2 MiB since they
// were sized for huge pages, which halved a count of chunks: fork-join
// throughput's sender then waited at every refill, 20.0 -> 5.3 M msg/s.)
//
// Counted per sending thread (outrun_cut_bytes), in the envelopes it cut
// itself and has out, not in the chunks the pool holds: the bound is on the
// backlog this sender can put out, and the pool's chunks are mostly other
// threads'. Each worker opens a chunk of its own per size class its actors
// allocate (an ask's request, its envelope, the reply), so a pool of 2
// workers whose actors ask held 4-6 MiB before the sender had cut anything,
// and the sender, counted against the pool's chunks, waited at its first
// empty refill with a backlog of a few magazines: Savina's logistic map
// (main floods 10 series, each a chain of asks), 2 workers, stats build,
// per run of 9 M messages: the sender waited 3.5-5.9k times, the workers
// ran dry between its naps (searches 2.1-2.8k, parks 1.6-2.7k, futex wakes
// 2.0-6.2k), and the second worker lost to the first. Two outside senders
// may each put out 2 MiB.
//
// The count is of what the thread has out, not of all it ever cut. Until
// 2026-12-01 it only grew, and a thread that had once cut 2 MiB (a
// service's I/O thread in a burst at start-up; or bit by bit, its freed
// envelopes taken up by other threads while its own refills found the depot
// empty) stayed paced for good: a later tell whose refill found the depot
// empty napped up to 2 ms with nothing of the thread's in any mailbox. A
// thread cannot see which of its envelopes were freed (that would cost
// every free a count), but it can see what the whole pool has out
// (envelope_bytes_out): every envelope cut, less those back in their chunks
// and those in the depot's full magazines. No thread has more out than the
// pool, so a count at the bound is first lowered to the pool's figure
// (ran_ahead): while the backlog is out, that figure is at least the
// backlog and the count stays; once it drained, the figure is what threads
// hold in their magazines, and the count falls to it. What that costs: one
// add to a shared counter per refill that cuts (65 envelopes), and six
// loads at a refill that would wait; never a step per message. Where the
// workers allocate nothing of their own (fork-join) the pool's figure is
// the sender's count, give or take the magazines that move while it is
// read, so it does not bite while a backlog is out. Stats build, 2 workers,
// 5 runs each way at load ~7 (VOLLEY_OUTRUN_ONLY_GROWS=1 against this):
// counts lowered 1-2 times a run in fork-join throughput, 0-1 in logistic
// map; waits 6.5-11.0k -> 6.2-12.0k and 5.0-5.4k -> 4.9-6.0k, as the load
// has them. Bench build against the one before, interleaved pairs at load
// ~7-8, new/old per pair: fork-join throughput 1.04 (0.78-1.24, 6 pairs),
// logistic map 0.99 (0.79-1.47, 12 pairs). A drained sender's count stays up where other threads'
// envelopes are out instead (bank transaction's teller, a worker, with 100
// MB in flight): while those stay out, it waits as a sender with a backlog
// would.
//
// Lowering the count at each refill that takes a magazine from the depot
// instead (a magazine came back) is wrong: a sender with a backlog takes
// its own returns and sends them on, which leaves the backlog as it was,
// and in fork-join almost every refill of main's takes one (a run sends 18
// M envelopes, 1.1 GB, through a backlog of 2 MiB and what the skips add).
// The count would fall to nothing under a steady backlog, and each refill
// that then found the depot empty would cut afresh without waiting: the
// backlog would grow at the receivers' pace, without bound. Tried (stats
// build, fork-join throughput, 2 workers, 4 interleaved runs at load ~7):
// peak RSS 437-448 MB against 10-11 MB, 2.3-3.1 against 7.5-14.7 M msg/s. A
// count of the magazines given to the depot fails too: it cannot tell the
// sender's returns from a worker's, so a worker that takes the sender's
// returns and sends them on counts them as freed twice.
constexpr std::size_t outrun_bound_bytes = std::size_t{2} << 20;
// Long enough for a receiver on a shared core to get its time slice back
// (the base slice is 0.75 ms on this kernel).
constexpr std::chrono::microseconds outrun_wait{2000};
// A wait that saw nothing come back (receivers that stash, or are stuck)
// lets the next refills cut without waiting: 4 at first, twice as many
// after each such wait, up to 64. At 64 refills of 65 envelopes, a sender
// whose receivers hand nothing back pays one 2 ms wait per ~4,000
// envelopes, under 0.5 µs each. Chosen so, not tuned: the first version
// skipped a fixed count (git log, "Outside senders that outrun their
// receivers wait").
constexpr unsigned outrun_first_skip = 4;
constexpr unsigned outrun_longest_skip = 64;
// Naps from the start, so that the waiting sender uses no CPU: it runs on
// a worker's core, and what it spins that worker does not run. 50 µs is
// the kernel's default timer slack, the shortest sleep there is, and
// receivers hand back ~1000 envelopes meanwhile, far fewer than the bound
// keeps queued. A spin of 256 pauses came first until 2026-11-30: most
// waits ended inside it (fork-join throughput, 2 workers: 20-88k waits
// per run, 3-9k naps), and perf put ~70% of the sender's alloc_slow
// samples on its pause, a quarter of the sender's CPU, taken from the
// worker it shared a core with. Without it, in the VM's slow cross-core
// mode at load ~7, 7 interleaved runs: 14.8-18.8 M msg/s against
// 7.1-16.3 M with it (git log, "Outside senders nap at once"). Counted
// with the 8-ahead lookahead (VOLLEY_SCHED_STATS, slow mode, load ~3.2,
// 5 runs each, per run of 18 M messages): waits 29-48k -> 3.4-3.7k, naps
// 3.6-5.1k -> 3.8-4.6k, the sender's time in waits 706-897 -> 562-689
// ms, worker parks 814-1390 -> 460-776 (117-261 ms parked, from
// 271-369), futex wakes 719-1341 -> 427-724; 10.9-14.1 -> 18.3-20.4 M/s.
constexpr std::chrono::microseconds outrun_nap{50};

std::atomic<int> crowded_pools{0};
std::atomic<std::uint64_t> outrun_waits{0};            ///< for tests: waits begun
std::atomic<std::uint64_t> outrun_naps{0};             ///< measurements: naps in those waits
std::atomic<std::uint64_t> outrun_misses{0};           ///< measurements: waits nothing came to
std::atomic<std::uint64_t> outrun_wait_ns{0};          ///< measurements: time in the waits
constinit thread_local unsigned outrun_skips = 0;      ///< refills left that do not wait
constinit thread_local unsigned outrun_last_skip = 0;  ///< 0 after a wait that saw a return
constinit thread_local bool outrun_paced = true;       ///< pace_this_thread()
std::atomic<std::uint64_t> outrun_lowered{0};          ///< measurements: counts lowered (ran_ahead)
/// Bytes of fresh envelopes this thread has cut (refills that found the
/// depot empty), lowered to what the pool has out (ran_ahead); whether it
/// has run `outrun_bound_bytes` ahead.
constinit thread_local std::size_t outrun_cut_bytes = 0;
/// Bytes of fresh envelopes every thread has cut: what the pool put out.
/// Every refill that cuts adds to it: aligned, so that it is not on the
/// line of crowded_pools, which each refill after an empty depot reads.
alignas(cache_line_size) std::atomic<std::size_t> envelope_bytes_cut{0};

#if defined(VOLLEY_SCHED_STATS) && VOLLEY_SCHED_STATS
// Measurement builds only, for an A/B in one binary: VOLLEY_OUTRUN_POOLWIDE=1
// restores the bound on the pool's live chunks, VOLLEY_OUTRUN_ONLY_GROWS=1
// a thread's count that is never lowered to the pool's.
bool env_flag(const char* name) noexcept {
  const char* env = std::getenv(name);
  return env != nullptr && std::atoi(env) != 0;
}
bool outrun_bound_poolwide() noexcept {
  static const bool on = env_flag("VOLLEY_OUTRUN_POOLWIDE");
  return on;
}
bool outrun_count_only_grows() noexcept {
  static const bool on = env_flag("VOLLEY_OUTRUN_ONLY_GROWS");
  return on;
}
#else
constexpr bool outrun_bound_poolwide() noexcept {
  return false;
}
constexpr bool outrun_count_only_grows() noexcept {
  return false;
}
#endif

/// Bytes of envelopes out of the pool's hands: cut and neither back in
/// their chunks nor in the depot (in mailboxes, being handled, or in a
/// thread's magazines). Relaxed loads of counters that move on: an estimate,
/// off by the few magazines that change hands while it is read.
std::size_t envelope_bytes_out() noexcept {
  std::size_t idle = envelope_chunks::registry().returned_bytes.load(std::memory_order_relaxed);
  for (std::size_t c = 0; c < class_count; ++c) {
    const long full = envelope_chunks::depots()[c].full_count.load(std::memory_order_relaxed);
    if (full > 0) idle += static_cast<std::size_t>(full) * batch * class_size(c);
  }
  const std::size_t cut = envelope_bytes_cut.load(std::memory_order_relaxed);
  // Below 0 only by the magazines that moved while this read: a block is
  // counted cut before it can be counted back.
  return cut > idle ? cut - idle : 0;
}

bool ran_ahead() noexcept {
  if (outrun_bound_poolwide()) {
    return envelope_chunks::registry().live.load(std::memory_order_relaxed) * chunk_bytes >=
           outrun_bound_bytes;
  }
  if (outrun_cut_bytes < outrun_bound_bytes) return false;
  if (outrun_count_only_grows()) return true;
  // No thread has more out than the whole pool: a backlog that drained
  // takes this thread's count down with it ("a sender that outruns").
  if (const std::size_t out = envelope_bytes_out(); out < outrun_cut_bytes) {
    outrun_cut_bytes = out;
    outrun_lowered.fetch_add(1, std::memory_order_relaxed);
    if (out < outrun_bound_bytes) {
      outrun_skips = outrun_last_skip = 0;  // what the misses taught is about that backlog
      return false;
    }
  }
  return true;
}

// A late block comes back to its chunk, or through a magazine to the depot,
// as any other does, and is counted there: uncounted here, each would take
// its size off envelope_bytes_out() for good (until 2026-12-01 they were,
// and a thread's exit that sent 1000 envelopes left the figure 64 KB low),
// and a sender's count would be lowered below what it still had out.
void* envelope_chunks::late_alloc(std::size_t c) {
  void* p = chunk_late_alloc(registry(), c);  // may throw: nothing to count then
  envelope_bytes_cut.fetch_add(class_size(c), std::memory_order_relaxed);
  return p;
}

void envelope_chunks::note_cut(std::size_t c, std::uint32_t n) noexcept {
  const std::size_t bytes = n * class_size(c);
  outrun_cut_bytes += bytes;
  envelope_bytes_cut.fetch_add(bytes, std::memory_order_relaxed);
}

bool envelope_chunks::wait_for_returns(const depot& d) noexcept {
  if (crowded_pools.load(std::memory_order_relaxed) <= 0) return false;
  if (on_worker_thread() || !outrun_paced) return false;
  if (!ran_ahead()) return false;
  if (outrun_skips > 0) {
    --outrun_skips;
    return false;
  }
  outrun_waits.fetch_add(1, std::memory_order_relaxed);
  const auto begun = std::chrono::steady_clock::now();
  const auto until = begun + outrun_wait;
  const auto count_time = [begun] {
    const auto spent = std::chrono::steady_clock::now() - begun;
    outrun_wait_ns.fetch_add(
        static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(spent).count()),
        std::memory_order_relaxed);
  };
  for (;;) {
    if (d.full_count.load(std::memory_order_relaxed) > 0) {
      outrun_last_skip = 0;
      count_time();
      return true;
    }
    if (std::chrono::steady_clock::now() >= until) {
      outrun_last_skip = outrun_last_skip == 0
                             ? outrun_first_skip
                             : std::min(2 * outrun_last_skip, outrun_longest_skip);
      outrun_skips = outrun_last_skip;
      outrun_misses.fetch_add(1, std::memory_order_relaxed);
      count_time();
      return false;
    }
    outrun_naps.fetch_add(1, std::memory_order_relaxed);
    std::this_thread::sleep_for(outrun_nap);
  }
}

#if defined(VOLLEY_USE_JEMALLOC)
std::mutex arena_mu;
std::vector<int> arena_of_node;  // jemalloc arena index per NUMA node, -1 = not made yet
#endif

}  // namespace

// envelope_alloc and envelope_free (envelope.hpp) choose the class inline.
static_assert(envelope_class_bytes == class_granule && envelope_classes == class_count,
              "envelope.hpp's classes are the pool's");

void* envelope_alloc_class(std::size_t cls) {
  return envelope_cache.alloc(cls, 1, envelope_cache.lookahead);
}

void envelope_free_class(void* p, std::size_t cls) noexcept {
  envelope_cache.free(p, cls);
}

void* envelope_alloc_large(std::size_t size) {
  return raw_alloc(size);
}

void envelope_free_large(void* p, std::size_t size) noexcept {
  raw_free(p, size);
}

void set_thread_numa_node([[maybe_unused]] int node,
                          [[maybe_unused]] unsigned node_count) noexcept {
#if defined(VOLLEY_USE_JEMALLOC)
  if (node < 0 || node_count < 2) return;  // one node: jemalloc's default arenas are right
  unsigned arena;
  {
    std::lock_guard lock(arena_mu);
    if (arena_of_node.size() <= static_cast<std::size_t>(node)) arena_of_node.resize(node + 1, -1);
    if (arena_of_node[node] < 0) {
      std::size_t len = sizeof(arena);
      if (mallctl("arenas.create", &arena, &len, nullptr, 0) != 0) return;
      arena_of_node[node] = static_cast<int>(arena);
    }
    arena = static_cast<unsigned>(arena_of_node[node]);
  }
  // The thread's default arena (and its tcache) become the node's arena, so
  // plain mallocx calls on this thread allocate node-local memory once the
  // worker is pinned there (first touch happens on this node too).
  mallctl("thread.arena", nullptr, nullptr, &arena, sizeof(arena));
#endif
}

cell_pool::figures envelope_pool::current() noexcept {
  chunk_registry& r = envelope_chunks::registry();
  return {r.live.load(std::memory_order_relaxed), chunk_bytes,
          r.depot_cap.load(std::memory_order_relaxed), batch};
}

void envelope_pool::set_depot_cap(long magazines) noexcept {
  envelope_chunks::registry().depot_cap.store(magazines, std::memory_order_relaxed);
}

void envelope_pool::enter_worker_thread() noexcept {
  envelope_cache.lookahead = 1;
}

void envelope_pool::count_crowded_pool(int delta) noexcept {
  crowded_pools.fetch_add(delta, std::memory_order_relaxed);
}

bool envelope_pool::senders_share_cores() noexcept {
  return crowded_pools.load(std::memory_order_relaxed) > 0;
}

bool envelope_pool::paces_this_thread() noexcept {
  return outrun_paced;
}

std::uint64_t envelope_pool::waits_for_returns() noexcept {
  return outrun_waits.load(std::memory_order_relaxed);
}

std::uint64_t envelope_pool::naps_for_returns() noexcept {
  return outrun_naps.load(std::memory_order_relaxed);
}

std::uint64_t envelope_pool::waits_without_return() noexcept {
  return outrun_misses.load(std::memory_order_relaxed);
}

std::uint64_t envelope_pool::wait_ns() noexcept {
  return outrun_wait_ns.load(std::memory_order_relaxed);
}

std::uint64_t envelope_pool::counts_lowered() noexcept {
  return outrun_lowered.load(std::memory_order_relaxed);
}

std::size_t envelope_pool::bytes_out() noexcept {
  return envelope_bytes_out();
}

}  // namespace volley::detail

namespace volley {
bool pace_this_thread(bool on) noexcept {
  return std::exchange(detail::outrun_paced, on);
}
}  // namespace volley
