// engine/src/scheduler.cpp — worker pools. The protocol is described in scheduler.hpp.
#include "scheduler.hpp"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include <volley/affinity/pinning.hpp>
#include <volley/engine/ask.hpp>
#include <volley/engine/detail/cell.hpp>

#include "allocator_numa.hpp"
#include "block_cache.hpp"  // prefetch_for_write
#include "cpu_relax.hpp"
#include "envelope_pool.hpp"

namespace volley::detail {

namespace {

thread_local worker* this_worker = nullptr;

// At most this many LIFO-slot picks in a row before the deque gets a turn:
// enough for a ping-pong pair to stay on one core, few enough that the
// deque's actors wait at most a few activations (Tokio uses 3 for the same
// reason).
constexpr unsigned max_lifo_streak = 3;

// Every this many picks the worker takes its *oldest* local item instead of
// the newest, so an actor that is rescheduled after every batch cannot
// starve the others on the same worker.
constexpr std::uint32_t fifo_interval = 8;

// Every this many picks the injection queue is looked at first, so work
// from non-worker threads is not starved by a busy local deque. 61 is Go's
// value: a prime, so it does not beat in step with periodic workloads.
constexpr std::uint32_t injection_interval = 61;

// The budget of an activation run after the workers are gone (shutdown):
// there is nobody left to be fair to, so as good as unbounded. Not UINT_MAX,
// so that budget arithmetic in the activation cannot wrap.
constexpr unsigned unbounded_budget = 1u << 30;

// A searcher does the costly looks (the clock, other workers' LIFO slots, a
// yield) once every this many spins: 64 spins of steal attempts and pauses
// are a few µs, so the deadline is overshot by that much at most and the
// clock read (~20 ns) stays under 1% of the spin.
constexpr unsigned slow_look_every = 64;

// The most cells a worker takes from the injection queue at once
// (pop_injection). Taken one at a time, every cell a non-worker thread
// scheduled cost its consumer a sub-queue reservation and a count update,
// RMWs on lines the producer writes per push, and two workers taking from
// one producer fought over them per cell: fork-join creation (the main
// thread spawning 1M actors) spent 11% of its worker's time in
// pop_injection. 32 is moodycamel's block size, so a batch is one block's
// reservation; more would move little (the per-batch cost is already
// spread over 32 cells) and hold more cells where only their worker and
// gated thieves see them. Reasoned, not measured against other sizes.
// What the batches did to fork-join creation is in the commit that added
// them (233b92c) and in the closing report: CPU per actor on 2 workers
// 0.82-0.97 of before in four interleaved sets at load 8-12, 1.04-1.06 in
// two at load ~5; wall clock within the noise of such loads.
constexpr std::size_t injection_batch = 32;

// Run-ahead. A thread that is not a worker and spawns actors in a loop
// (fork-join creation's main thread, 1M actors each told one message)
// writes each cell and its first envelope, and a worker later runs them.
// The spawner is faster than the worker, so it runs far ahead (200k cells,
// RSS 50-75 MB on 1 worker), and each cell reaches its worker cold. Where
// the spawner shares a PU with a worker (always, with a worker per PU),
// the cells it has just written are in that PU's caches, and each side's
// cost per actor halves (~140 -> ~70 ns the worker's, ~120 -> ~65 ns the
// spawner's) if the worker runs them before they are evicted. So every
// `run_ahead_check_every` spawns such a thread looks at the injection
// queue, and if more than `run_ahead_bound` cells wait there and a worker
// of the pool is pinned to the PU it runs on, yields the PU once: to that
// worker, which runs cells still in its caches. A yield, never a wait: a
// spawner must make progress when every worker is blocked in user code
// (or waits for the spawner). Not where no worker shares its PU: there
// the yield handed the PU to other processes' threads on a loaded machine
// (1 worker: CPU per run +7%). Not in an unpinned pool (no PU to match),
// nor from a worker (its own pool's work is its to run).
// How it was found: a hack in the benchmark that made main wait (usleep
// polls) until its lead was <= 8-16k was bimodal: 4.3-6.8 M actors/s at
// 0.12-0.15 CPU-s per run when main ran on the worker's PU (sched_getcpu
// histogram), 0.5-1.1 M at 0.34-0.47 s when not (the worker ran dry,
// parked and was woken per chunk); base 1.2-1.8 M, 0.23-0.30 s.
// Fork-join creation, 2 workers, bench preset, 2-core AMD EPYC VM (load
// average 3-4, probe ~55 ns), interleaved, 10 rounds: actors/s median
// 3.09 -> 4.48 M, minimum 2.53 -> 3.88 M, CPU-s per run 0.40 -> 0.25.
// The bound: 2048 against 8192 (10 rounds, load ~4, probe ~320 ns):
// 5.04 against 3.84 M median, CPU 0.26 against 0.33 s (base 2.63 M,
// 0.47 s); 2048 cells and their envelopes (~0.5 MB) stay within a 2 MB
// L2, 8192 fill it. Bounds 512 and 1024 (looking every 256) and a look
// every 512 were within the noise of these (8 rounds each); every 4096
// was worse (3.13 against 4.05 M at bound 8192).
constexpr std::uint32_t run_ahead_check_every = 1024;
constexpr std::size_t run_ahead_bound = 2048;
std::atomic<std::uint64_t> run_ahead_yields{0};  // for tests; rare: once per 1024 spawns at most

// The steal gate's wait (oldest_wait_before_steal) and its reasons are in
// steal_gate.hpp.

// The largest value a cell's last_worker_ hint holds (a 6-bit field, in the
// one byte line 1 of a cell has left: cell.hpp). The hint is a worker's
// index plus one (0: unknown), so it names the workers below the limit;
// those from index 63 on record "unknown", and nothing is handed back to
// them.
constexpr unsigned last_worker_hint_mask = (1u << cell_base::last_worker_bits) - 1;
constexpr unsigned last_worker_hint_limit = last_worker_hint_mask;

// Rules that measurement builds (VOLLEY_SCHED_STATS) can switch off for an
// A/B in one binary; always on otherwise:
//   * hand_back_on(): the hand-back rule (VOLLEY_HAND_BACK=0);
//   * park_look_narrow(): a parking worker's look skips the other workers'
//     deques (announced_work_visible(); VOLLEY_PARK_LOOK=0 restores the
//     look at every queue).
#if defined(VOLLEY_SCHED_STATS) && VOLLEY_SCHED_STATS
bool switched_on(const char* env_name) noexcept {
  const char* env = std::getenv(env_name);
  return env == nullptr || std::atoi(env) != 0;
}
bool hand_back_on() noexcept {
  static const bool on = switched_on("VOLLEY_HAND_BACK");
  return on;
}
bool park_look_narrow() noexcept {
  static const bool on = switched_on("VOLLEY_PARK_LOOK");
  return on;
}
// The wake-up rules of issue 11's fork-join work: VOLLEY_WAKE_RULES=0 turns
// both off, VOLLEY_FANOUT_LOOK=0 and VOLLEY_PARK_SEARCHING=0 one each.
bool wake_rule_on(const char* env_name) noexcept {
  return switched_on("VOLLEY_WAKE_RULES") && switched_on(env_name);
}
bool fan_out_look_narrow() noexcept {
  static const bool on = wake_rule_on("VOLLEY_FANOUT_LOOK");
  return on;
}
#else
constexpr bool hand_back_on() noexcept {
  return true;
}
constexpr bool park_look_narrow() noexcept {
  return true;
}
constexpr bool fan_out_look_narrow() noexcept {
  return true;
}
#endif

}  // namespace

worker* current_worker() noexcept {
  return this_worker;
}
bool on_worker_thread() noexcept {
  return this_worker != nullptr;
}

worker_pool::worker_pool(system_core* core, pool_settings settings)
    : core_(core),
      settings_(std::move(settings)),
      idle_(static_cast<unsigned>(settings_.plan.workers.size())),
      rng_(settings_.deterministic_seed.value_or(0)) {
  for (const auto& slot : settings_.plan.workers) {
    auto w = std::make_unique<worker>();
    w->pool = this;
    w->index = slot.index;
    w->pu = slot.pu;
    w->numa_node = slot.numa_node;
    w->steal_order = slot.steal_order;
    w->injection_consumer.emplace(injection_);
    w->seen_lifo.resize(settings_.plan.workers.size());
    w->stalls.resize(settings_.plan.workers.size());
    w->steal_gates.resize(settings_.plan.workers.size());
    workers_.push_back(std::move(w));
  }
#if defined(VOLLEY_SCHED_STATS) && VOLLEY_SCHED_STATS
  idle_.set_rules(wake_rules{.return_searching = wake_rule_on("VOLLEY_PARK_SEARCHING")});
#endif
  for (auto& w : workers_) {
    // The near victims: the prefix of the steal order on our own node.
    std::size_t n = 0;
    while (n < w->steal_order.size() && w->steal_order[n] < workers_.size() &&
           workers_[w->steal_order[n]]->numa_node == w->numa_node) {
      ++n;
    }
    w->near_victims = n;
    // Start each worker's rotation at its own index: two thieves that look
    // at the same moment begin at different victims.
    w->steal_rotation = w->index;
  }
}

worker_pool::~worker_pool() {
  stop_and_join();
}

void worker_pool::start() {
  if (settings_.deterministic_seed) return;  // the test's thread runs everything
  // Workers on every CPU we may use: a thread outside the pool that sends
  // shares a worker's core (envelope_pool.cpp says what that changes).
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof allowed, &allowed) == 0 &&
      workers_.size() >= static_cast<std::size_t>(CPU_COUNT(&allowed))) {
    crowds_cores_ = true;
    envelope_pool::count_crowded_pool(+1);
  }
  for (auto& w : workers_) {
    worker* wp = w.get();
    wp->thread = std::thread([this, wp] { run(*wp); });
  }
}

inline void worker_pool::schedule_on_worker(worker& w, cell_base* c) noexcept {
  // Woken by the actor running on this worker: run it next, here, while
  // the message it was sent is still in this core's cache. An occupant it
  // displaces goes to the deque (see below).
  // Filling an empty slot wakes nobody: this worker runs the slot next,
  // and waking a sleeper per fill is what kept a ping-pong pair's second
  // core busy (1.85 CPU-s per wall second on 2 workers, ~9k context
  // switches/s). The slot needs another worker only when its occupant
  // goes stale — this worker stays inside one long handler, a producer
  // sending millions of messages — and the workers that watch for that
  // are the napping ones (park()). Only when every sleeper sleeps for good
  // (nobody watches) does a fill wake one; it naps afterwards.
  // release: a thief that takes the slot sees the cell as we left it.
  // A displaced occupant goes to the deque and is treated like a fill:
  // this worker runs it soon, so it wakes nobody unless every sleeper
  // sleeps for good. Waking a sleeper per displacement handed one half of
  // a conversation (an arbitrator and its philosophers, the mall and its
  // chameneos) to the other core, and every message after that crossed
  // cores: dining philosophers on 2 workers ran at 4.06 M msg/s against
  // 9.3 M on 1. A real surplus still reaches the other workers: napping
  // workers look for visible work after each nap (park()), searchers
  // steal it, and a deque that overflows goes to the injection queue
  // with a notify().
  // The hand-back rule's first test here, without a call: most cells did
  // not last run on a lower-numbered worker.
  const unsigned last = c->last_worker_;
  if (last != 0 && last - 1 < w.index && hand_back(w, c, last)) return;
  cell_base* displaced = w.lifo.fill(c);
  if (displaced != nullptr) push_local(w, displaced);
  idle_.fill_hint();  // wakes a deep sleeper only if nobody watches or searches
}

void worker_pool::schedule(cell_base* c) noexcept {
  // The worker's path first, and everything else out of line
  // (schedule_elsewhere): inlined, the injection push and notify() made
  // every call save and restore six registers, a dozen instructions of the
  // ~440 a ping-pong message costs (callgrind, bench preset). The order of
  // the tests is schedule_elsewhere()'s: joined_ before the test mode
  // (whose run_one() sets this_worker) before the worker.
  worker* w = this_worker;
  if (w != nullptr && w->pool == this && !joined_.load(std::memory_order_acquire) &&
      !settings_.deterministic_seed) [[likely]] {
    schedule_on_worker(*w, c);
    return;
  }
  schedule_elsewhere(c);
}

void worker_pool::schedule_elsewhere(cell_base* c) noexcept {
  if (joined_.load(std::memory_order_acquire)) {
    // The workers are gone (the system has shut down): a late system message
    // to a dead actor (a stop, an unwatch from a remote node's teardown) is
    // run here, by its sender, which now owns the cell. Otherwise it would
    // wait in a queue nobody reads, holding the cell and the system core.
    run_to_idle(c);
    return;
  }
  if (settings_.deterministic_seed) {
    {
      detail::lock_guard lock(ready_mu_);
      ready_.push_back(c);  // test mode only: running out of memory here terminates
    }
    drain_if_joined();
    return;
  }
  // Not from one of our workers (those took schedule()'s first path).
  injection_.push(c);
#if defined(VOLLEY_SCHED_STATS) && VOLLEY_SCHED_STATS
  injected_.fetch_add(1, std::memory_order_relaxed);
#endif
  idle_.notify();
  // notify() opens with the seq_cst fence drain_if_joined() needs (after
  // the push, before this load), so a second fence here would buy nothing.
  if (joined_.load(std::memory_order_relaxed)) drain_queued();
}

bool worker_pool::hand_back(worker& waker, cell_base* c, unsigned last) noexcept {
  // The hand-back rule (scheduler.hpp, "Keeping a conversation on one
  // worker"): a cell that last ran on a lower-numbered worker (`last`, its
  // last_worker_ hint: the caller has checked that it is lower than the
  // waker's), which is running, goes back there, if that worker's LIFO slot
  // is free.
  (void)waker;
  if (!hand_back_on()) return false;
  worker& home = *workers_[last - 1];
  if (home.doing.load(std::memory_order_relaxed) != worker::phase::running) return false;
  if (!home.lifo.offer(c)) return false;
  // The home worker may have run out of work and be about to sleep since we
  // looked. seq_cst: pairs with the fence a parking worker runs between
  // storing `parked` and looking at its own slot (park()): either it sees
  // the cell there and does not sleep, or we see `parked` here and take the
  // cell back (if nobody took it meanwhile) to run it ourselves.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (home.doing.load(std::memory_order_relaxed) == worker::phase::parked &&
      home.lifo.take_back(c)) {
    return false;
  }
  VOLLEY_SCHED_STAT(waker, handbacks++);
  return true;
}

void worker_pool::drain_if_joined() noexcept {
  // The joined_ test at the top of schedule() is not enough on its own: a
  // sender can read false, be preempted while drain_on_caller() sets it and
  // empties the queues, and then push into a queue nobody will read again
  // (the cell, and through it the system core, leaked). So a sender looks
  // again after its push. seq_cst fence: pairs with the one in
  // drain_on_caller() between its store of joined_ and its first pop. Either
  // this load sees joined_ (and we drain), or that fence comes after ours in
  // the total order and the drainer's pops see our push. Both may drain at
  // once: each cell is popped by one of them only.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (joined_.load(std::memory_order_relaxed)) drain_queued();
}

void worker_pool::push_local(worker& w, cell_base* c) noexcept {
  if (!w.local.push(c)) overflow(w, c);
}

void worker_pool::overflow(worker& w, cell_base* c) noexcept {
  // The local deque is full: move its older half, and `c`, to the injection
  // queue in one bulk push (Tokio's overflow). One item at a time, a worker
  // that keeps producing work would pay a global-queue push for every item
  // from now on; half the deque buys room for `local_capacity / 2` more
  // local pushes. Taken from the top (the oldest), as a thief would, since
  // the bottom is this worker's cache-hot end; steal() is safe for the owner.
  constexpr std::size_t half = worker::local_capacity / 2;
  cell_base* batch[half + 1];
  std::size_t n = 0;
  while (n < half) {
    using result = queues::work_stealing_deque<cell_base*>::steal_result;
    result r = w.local.steal(batch[n]);
    if (r == result::success) ++n;
    if (r == result::empty) break;  // thieves emptied it meanwhile
  }
  batch[n++] = c;
  injection_.push_bulk(batch, n);
#if defined(VOLLEY_SCHED_STATS) && VOLLEY_SCHED_STATS
  injected_.fetch_add(n, std::memory_order_relaxed);
#endif
  idle_.notify();  // work for others to find; rare: at most once per `half` pushes
}

namespace {

// Cells in an injection batch were written by another thread (a spawner,
// an outside sender), so every line an activation reads is in that
// thread's core: a cell's two header lines, the actor's first line, and
// the first envelope, which the worker finds only through the cell's
// tail_. Read one after the other they are misses in series, each a
// cross-core transfer (~160 ns one way when the VM's round trip is slow).
// Asked for together here, while the batch is still ours alone (no other
// worker can steal it before push_local), they overlap. For writing: the
// activation writes both header lines (tail_, refs_, state_ at a stop), and
// a line fetched for reading would then cross a second time for the
// ownership. The third line is the actor's, or a 128 B cell's neighbour,
// which the spawner usually wrote just after it and which is usually in
// the same batch. Fork-join creation (1M actors spawned by main, bench
// preset, 2-core VM in its slow mode, load ~5, interleaved with 4ea8892):
// actors/s median ratio 1.13 on 1 worker, 1.04 on 2 (10 rounds); with
// cells asked for four ahead (cell_pool.cpp) 1.18 and 1.25 (15 rounds).
// Tried beside it, no change beyond the noise (10 rounds each, ratios
// 0.94-1.03): two lines instead of three, and asking for the parent's
// mutex and list-head lines before the unlink (finalize), also at the
// spawn (attach_cell). What the batches still miss on: perf puts half of
// run_activation's samples on its first read of line 0.
// Also tried, no change beyond the noise (1 worker, slow probe mode, load
// ~10, 8-10 rounds; workers' CPU-s per run, perf task-clock less main's
// getrusage): a rolling prefetch, this batch's first k cells here and, at
// each pop from the deque, the lines of the cell k pops ahead (an owner
// peek into the deque) and the popped cell's first envelope: k = 4, 8,
// 16, 32 gave 0.134-0.155 s against 0.139-0.158 s for the whole batch at
// once; k = 1 (next to none) 0.163 s. What did move that CPU was where the
// cells are: see "Run-ahead" above.
void prefetch_batch(cell_base* const* batch, std::size_t n) noexcept {
  constexpr std::size_t lines = 3;  // the cell's two header lines and its actor's first
  for (std::size_t i = 0; i < n; ++i) {
    const auto* p = reinterpret_cast<const unsigned char*>(batch[i]);
    for (std::size_t l = 0; l < lines; ++l) pool::prefetch_for_write(p + l * cache_line_size);
  }
  // Second pass, so the loads of tail_ below find their lines on the way:
  // independent of each other, they miss together, not one by one. The
  // envelope for writing too: its worker frees it (the free list's link).
  for (std::size_t i = 0; i < n; ++i) {
    if (queues::mpsc_node* first = batch[i]->mailbox_.peek()) pool::prefetch_for_write(first);
  }
}

}  // namespace

std::optional<cell_base*> worker_pool::pop_injection(worker& w) noexcept {
  // A batch, not one cell: a fair share of what is queued (Go's globrunqget:
  // queued / workers + 1), at most `injection_batch` and what the local deque
  // has room for. The first runs now, the rest go to the local deque in
  // injection order, where other workers may steal them (steal gate).
  VOLLEY_SCHED_STAT(w, injection_polls++);
  const std::size_t queued = injection_.size_approx();
  if (queued == 0) return std::nullopt;
  const auto room = static_cast<std::size_t>(std::max<std::int64_t>(
      1, static_cast<std::int64_t>(worker::local_capacity / 2) - w.local.size_approx()));
  const std::size_t want = std::min({queued / workers_.size() + 1, injection_batch, room});
  cell_base* batch[injection_batch];
  const std::size_t n = injection_.try_pop_bulk(*w.injection_consumer, batch, want);
  if (n == 0) return std::nullopt;
  VOLLEY_SCHED_STAT(w, injection_cells += n);
  prefetch_batch(batch, n);
  // Pushed newest first, so the deque's owner (who pops the newest end)
  // runs them oldest first.
  for (std::size_t i = n - 1; i > 0; --i) push_local(w, batch[i]);
  // Announced work now sits in our deque, where a look at the injection
  // queue no longer sees it: if we are the searcher its notify relied on,
  // our fan-out must answer for it (leave_searching).
  if (n > 1) w.took_batch = true;
  return batch[0];
}

void worker_pool::pace_outside_spawner() noexcept {
  // Per thread, not per pool: one counter serves every pool a thread spawns
  // into, and a thread that spawns rarely never looks.
  thread_local std::uint32_t spawns = 0;
  if (++spawns % run_ahead_check_every != 0 || !envelope_pool::paces_this_thread()) return;
  if (!settings_.plan.pinned || injection_.size_approx() <= run_ahead_bound) return;
  // Only where a worker of ours is pinned to the PU we run on: the yield
  // hands it the PU. Elsewhere it hands the PU to someone else's thread.
  const int pu = sched_getcpu();
  for (const auto& w : workers_) {
    if (w->pu == pu) {
      run_ahead_yields.fetch_add(1, std::memory_order_relaxed);
      std::this_thread::yield();
      return;
    }
  }
}

std::uint64_t worker_pool::outside_spawner_yields() noexcept {
  return run_ahead_yields.load(std::memory_order_relaxed);
}

void worker_pool::requeue(worker& w, cell_base* c) noexcept {
  push_local(w, c);
  // No notify: this worker goes straight back to its queues, and if it has
  // more than it can run, the others find it when they search. Waking
  // someone per batch would be exactly the per-message wake we avoid.
}

void worker_pool::leave_searching(worker& w) noexcept {
  // The last searcher fans out for announced work (the injection queue)
  // only, unless what it found was a steal from a deque: then the other
  // deques may hold more that thieves may take. Deque work found otherwise
  // is its owner's, which is running, and the steal gate keeps a woken
  // worker from it for up to 50 µs: waking one for it (as the look at
  // every deque did) woke a worker that found nothing and parked again.
  //
  // One exception is about liveness, not speed: a batch taken from the
  // injection queue put announced work into our own deque, where the pushes
  // that found us searching woke nobody for it. If our handler then blocks
  // (one that waits for that very cell), a napping worker takes the rest
  // after its nap (the gated steal), but a worker asleep for good never
  // would: then, and only then, the batch's rest counts as work to fan out
  // for (found by system_test and parking_look_checker_test; the look
  // without it is a known-bad variant there). Waking a napper for it as
  // well cost fork-join throughput wakes it could not use.
  const bool stole = w.stole_from_deque;
  const bool batch = w.took_batch;
  w.stole_from_deque = false;
  w.took_batch = false;
  idle_.leave_searching(w.index, [this, &w, stole, batch] {
    if (stole || !fan_out_look_narrow()) return work_visible();
    if (announced_work_visible()) return true;
    return batch && idle_.sleeps_for_good() && !w.local.empty_approx();
  });
}

// O(workers), on purpose. An O(1) answer needs one word that every queue
// change updates: a pool-wide count of queued cells. The injection queue has
// such a count already (its push is an RMW anyway), but the local deques do
// not: a Chase–Lev push is a plain store of bottom_ by the owner, and a pop
// is a store, a fence and a load (a CAS only for the last item), all on
// lines the owner mostly holds, which is what makes the per-activation path
// cheap. A shared count would add an RMW on one contended line to every
// push and every pop of every worker (a cross-core line transfer each,
// against a few ns for the deque operation), to save work on a path that
// runs once per park (which pays a mutex and usually a futex wait, µs) and
// when the last searcher finds work. Tracking only the
// empty/non-empty transitions does not work either: the owner cannot see
// when thieves empty its deque without reading top_, which is the look we
// make here. What this costs: two loads per worker (top_ and bottom_, on
// lines the owner and thieves write), so at 128 workers ~256 line reads per
// park, mostly shared hits when the pool is idle (nobody writes them).
// Callers: leave_searching() (the last searcher, after a deque steal) and the stopping/retiring
// exits (short-circuited behind the flag). Not park() any more: a parking
// worker looks only at announced work (announced_work_visible(), O(1)),
// and after every nap it runs the gated steal() instead.
bool worker_pool::announced_work_visible() const noexcept {
  // What a parking worker looks at after registering as a sleeper: the work
  // whose publishers call notify() — the injection queue, into which
  // schedule() from outside the pool and an overflowing deque put theirs.
  // Not the other workers' deques: their owners are running (a worker
  // empties its own deque before it parks, and only the owner pushes
  // there), and the look after each nap takes what the steal gate allows.
  // Looking at them here made a worker that the gate kept from a busy
  // worker's deque return from every park at once and spin again, reading
  // the busy worker's deque lines all the while (scheduler.hpp, "The
  // parking look").
  if (!park_look_narrow()) return work_visible();
  return !injection_.empty_approx();
}

bool worker_pool::work_visible() const noexcept {
  if (!injection_.empty_approx()) return true;
  for (const auto& w : workers_) {
    if (!w->local.empty_approx()) return true;
  }
  return false;
}

cell_base* worker_pool::next_local(worker& w) noexcept {
  std::uint32_t tick = ++w.tick;
  if (tick % injection_interval == 0) {
    if (auto c = pop_injection(w)) {
      VOLLEY_SCHED_STAT(w, injection_picks++);
      return *c;
    }
  }
  // The slot is read first (plain load) so the common empty case costs no
  // RMW; taking it is an exchange because a thief may race us for it.
  if (w.lifo.occupied()) {
    cell_base* l = w.lifo.take();
    if (l != nullptr) {
      // The streak bound exists for the deque's sake; with nothing waiting
      // there, pushing the slot's actor through the deque would only hand a
      // ping-pong partner to a spinning thief on another core.
      if (w.lifo_streak < max_lifo_streak || w.local.empty_approx()) {
        ++w.lifo_streak;
        VOLLEY_SCHED_STAT(w, lifo_picks++);
        return l;
      }
      // The streak is over: the slot's actor queues behind the deque's.
      w.lifo_streak = 0;
      push_local(w, l);
    }
  } else {
    w.lifo_streak = 0;
  }
  // Not `tick % fifo_interval`: picks that reach this line can fall into a
  // cycle (LIFO streaks make it every 4th pick) that never lands on a
  // multiple of 8, and then the oldest actor waits for ever (found by
  // dining philosophers on one worker: the philosopher holding the forks
  // never ran again).
  if (tick - w.last_fifo_tick >= fifo_interval) {
    w.last_fifo_tick = tick;
    cell_base* oldest;
    if (w.local.steal(oldest) == queues::work_stealing_deque<cell_base*>::steal_result::success) {
      VOLLEY_SCHED_STAT(w, deque_picks++);
      return oldest;
    }
  }
  if (auto c = w.local.pop()) {
    VOLLEY_SCHED_STAT(w, deque_picks++);
    return *c;
  }
  if (auto c = pop_injection(w)) {
    VOLLEY_SCHED_STAT(w, injection_picks++);
    return *c;
  }
  return nullptr;
}

cell_base* worker_pool::steal(worker& w) noexcept {
  // The near victims (same node) in a rotated order, then the rest in the
  // plan's order (closest caches first). With a fixed order every thief
  // tried the same first victim, and they convoyed on its deque's top.
  VOLLEY_SCHED_STAT(w, steal_attempts++);
  const std::size_t near = w.near_victims;
  const std::size_t start = near > 1 ? w.steal_rotation++ % near : 0;
  for (std::size_t i = 0; i < w.steal_order.size(); ++i) {
    unsigned victim = w.steal_order[i < near ? (start + i) % near : i];
    if (victim >= workers_.size()) continue;
    if (!may_steal_from(w, victim)) continue;
    std::int64_t before = 0;
    if constexpr (sched_stats_on) before = w.local.size_approx();
    (void)before;
    if (auto c = workers_[victim]->local.steal_half(w.local)) {
      w.stole_from_deque = true;  // leave_searching() fans out for deque work
      VOLLEY_SCHED_STAT(w, steals++);
      VOLLEY_SCHED_STAT(
          w, stolen_cells += 1 + static_cast<std::uint64_t>(w.local.size_approx() - before));
      return *c;
    }
  }
  if (auto c = pop_injection(w)) {
    VOLLEY_SCHED_STAT(w, injection_picks++);
    return *c;
  }
  return nullptr;
}

std::chrono::nanoseconds worker_pool::stalled_wait() noexcept {
#if defined(VOLLEY_SCHED_STATS) && VOLLEY_SCHED_STATS
  // Measurement builds: VOLLEY_STALLED_NS overrides it (0: no stalled rule,
  // the gate's plain wait and the LIFO theft at its second look, as before).
  static const std::chrono::nanoseconds stalled{[] {
    const char* env = std::getenv("VOLLEY_STALLED_NS");
    return env != nullptr ? std::atoll(env) : stalled_wait_before_steal.count();
  }()};
  return stalled;
#else
  return stalled_wait_before_steal;
#endif
}

std::chrono::nanoseconds worker_pool::spin_before_park() const noexcept {
#if defined(VOLLEY_SCHED_STATS) && VOLLEY_SCHED_STATS
  // Measurement builds: VOLLEY_SPIN_NS overrides the configured spin, for
  // an A/B in one binary (fork-join creation's figures are at the spin).
  static const std::optional<long long> spin{[]() -> std::optional<long long> {
    const char* env = std::getenv("VOLLEY_SPIN_NS");
    if (env == nullptr) return std::nullopt;
    return std::atoll(env);
  }()};
  if (spin) return std::chrono::nanoseconds(*spin);
#endif
  return settings_.spin_before_park;
}

bool worker_pool::may_steal_from(worker& thief, unsigned victim) noexcept {
  // Relaxed loads of words the victim writes (steal_gate.hpp says what they
  // decide); its top only when there is something to steal. A wrong
  // answer delays a steal or lets one through early, never loses a cell.
  const worker& v = *workers_[victim];
  victim_look look;
  look.size = v.local.size_approx();
  if (look.size > 0) {
    look.top = v.local.top_approx();
    look.activations = v.lifo.activations();
  }
#if defined(VOLLEY_SCHED_STATS) && VOLLEY_SCHED_STATS
  // Measurement builds only: VOLLEY_STEAL_WAIT_NS overrides the wait,
  // VOLLEY_BACKLOG_NS the drain-rate rule's bound, VOLLEY_STALLED_NS the
  // stalled victim's wait,
  static const std::chrono::nanoseconds wait{[] {
    const char* env = std::getenv("VOLLEY_STEAL_WAIT_NS");
    return env != nullptr ? std::atoll(env) : oldest_wait_before_steal.count();
  }()};
  static const std::chrono::nanoseconds backlog{[] {
    const char* env = std::getenv("VOLLEY_BACKLOG_NS");
    return env != nullptr ? std::atoll(env) : backlog_drain_before_steal.count();
  }()};
  // VOLLEY_BACKLOG_FLOOR_NS the drain-rate rule's shortest mean activation
  // (0: the rule for any victim, as before).
  static const std::chrono::nanoseconds floor{[] {
    const char* env = std::getenv("VOLLEY_BACKLOG_FLOOR_NS");
    return env != nullptr ? std::atoll(env) : backlog_min_activation.count();
  }()};
  const std::chrono::nanoseconds stalled = stalled_wait().count() > 0 ? stalled_wait() : wait;
  return thief.steal_gates[victim].may_steal(look, thief.search_now, wait, backlog, stalled, floor);
#else
  return thief.steal_gates[victim].may_steal(look, thief.search_now);
#endif
}

cell_base* worker_pool::steal_stuck_lifo(worker& thief) noexcept {
  // Take a victim's LIFO slot only if it is stale: its worker is stuck in
  // one long handler (lifo_slot.hpp says how that is told). A worker that is
  // moving along keeps its slot.
  // A victim that has started no activation for stalled_wait_before_steal
  // only: its thread is more likely off its CPU for a time slice than stuck,
  // and taking its next actor split the conversation it was running
  // (steal_gate.hpp). Until then the slot is not even looked at, so the
  // sighting the theft compares with is the one from before the stall.
  for (unsigned victim : thief.steal_order) {
    if (victim >= workers_.size()) continue;
    auto& stall = thief.stalls[victim];
    const std::uint32_t ran = workers_[victim]->lifo.activations();
    if (ran != stall.activations) {
      stall = {ran, thief.search_now};
      continue;
    }
    if (thief.search_now - stall.since < stalled_wait()) continue;
    if (cell_base* c = workers_[victim]->lifo.steal_if_stale(thief.seen_lifo[victim])) {
      VOLLEY_SCHED_STAT(thief, lifo_thefts++);
      return c;
    }
  }
  return nullptr;
}

void worker_pool::run(worker& w) {
  this_worker = &w;
  envelope_pool::enter_worker_thread();
  // Named (volley-w0, volley-w1, ...), so that top -H, perf and gdb tell the
  // workers from the timer thread (volley-timer) and remote loops (volley-io).
  // 16: Linux's limit on a thread's name, the NUL included (TASK_COMM_LEN);
  // pthread_setname_np refuses a longer one.
  char name[16];
  std::snprintf(name, sizeof name, "volley-w%u", w.index);
  pthread_setname_np(pthread_self(), name);
  set_thread_numa_node(w.numa_node, settings_.topology ? settings_.topology->numa_nodes() : 1);
  if (settings_.topology != nullptr && settings_.plan.pinned && w.pu >= 0) {
    affinity::pin_current_thread(*settings_.topology, w.pu);
  }
  const unsigned budget = settings_.throughput;
  // This worker as a cell's last_worker_ hint; the mask only tells the
  // compiler what the limit already ensures (the field is 6 bits).
  const unsigned me = (w.index < last_worker_hint_limit ? w.index + 1 : 0) & last_worker_hint_mask;
  for (;;) {
    cell_base* c = next_local(w);
    if (c == nullptr) {
      w.set_phase(worker::phase::searching);
      // Search: only half the pool at a time, so an idle pool does not
      // hammer the busy workers' deques with steal attempts.
      const auto search_began = std::chrono::steady_clock::now();
      w.search_now = search_began;
      auto deadline = search_began + spin_before_park();
      VOLLEY_SCHED_STAT(w, searches++);
      w.stole_from_deque = false;
      w.took_batch = false;
      idle_.start_searching(w.index);
      const bool searching = idle_.searching(w.index);
      if (!searching) VOLLEY_SCHED_STAT(w, unadmitted++);
      // Not admitted as a searcher (half the pool already searches): the
      // searchers will find what comes, and fan out a burst when they do
      // (leave_searching), so this worker's spin (injected work only) mostly
      // took a core from whoever produces that work: fork-join creation's
      // spawning main thread, three busy threads on two cores. One slow
      // look's worth (~64 looks and pauses), then park. Interleaved A/B
      // against 1875fd0, 2 workers, VM at load 4-5 (other builds): CPU-ns
      // per actor 427 -> 403 and 572 -> 548 (11 and 15 pairs, medians),
      // actors/s 2.62 -> 2.63 M and 2.31 -> 2.38 M, minima 2.30 -> 2.41 M
      // and 2.18 -> 2.11 M; ping-pong, counting, chameneos, big, thread
      // ring, fibonacci, sieve within their noise (5-9 pairs).
      if (!searching) deadline = search_began;
      for (unsigned spins = 0; c == nullptr; ++spins) {
        c = searching ? steal(w) : pop_injection(w).value_or(nullptr);
        if (c == nullptr) c = next_local(w);  // a thief may have pushed into ours
        if (c != nullptr) break;
        if (stopping_.load(std::memory_order_acquire) && !work_visible()) break;
        if (spins % slow_look_every == slow_look_every - 1) {
          if (searching && (c = steal_stuck_lifo(w)) != nullptr) break;
          w.search_now = std::chrono::steady_clock::now();
          if (w.search_now >= deadline) break;
          // Let a thread that shares this core (an asker woken by a reply,
          // a sender) run now rather than at the end of our spin.
          std::this_thread::yield();
          VOLLEY_SCHED_STAT(w, search_yields++);
        }
        cpu_relax();
      }
      if constexpr (sched_stats_on) {
        w.stats.search_ns += static_cast<std::uint64_t>(
            std::chrono::nanoseconds(std::chrono::steady_clock::now() - search_began).count());
      }
      if (c == nullptr) {
        if (stopping_.load(std::memory_order_acquire) && !work_visible()) break;
        if (retired_.load(std::memory_order_acquire) && !work_visible()) break;
        std::chrono::steady_clock::time_point park_began{};
        if constexpr (sched_stats_on) park_began = std::chrono::steady_clock::now();
        c = park(w);  // a cell a nap found (see park()), or nullptr
        if constexpr (sched_stats_on) {
          w.stats.parks++;
          w.stats.park_ns += static_cast<std::uint64_t>(
              std::chrono::nanoseconds(std::chrono::steady_clock::now() - park_began).count());
        }
        if (c == nullptr) continue;
      }
    }
    // Whichever way the work was found — stolen while searching, or picked
    // from our own queues right after a wake-up that counted us as
    // searching — we are not searching any more. Missing this left
    // searching_ at 1 for good, so notify() never woke anyone again.
    // Tested here first: a worker running its own queues (every ping-pong
    // message) is not searching, and the call cost 6 of its instructions.
    if (idle_.searching(w.index)) leave_searching(w);
    w.set_phase(worker::phase::running);
    w.lifo.activation_started();
    // Line 1: the activation's own line.
    if (c->last_worker_ != me) c->last_worker_ = me & last_worker_hint_mask;
    VOLLEY_SCHED_STAT(w, activations++);
#if defined(VOLLEY_SCHED_STATS) && VOLLEY_SCHED_STATS
    {
      // Where did this cell run last? A hash table of last workers, racy and
      // lossy on collisions: good enough to count moves between workers.
      // 64 Ki slots (128 KiB) keep collisions rare below tens of thousands
      // of busy cells. A slot is picked by the address from bit 7 up: cells
      // are at least 128 B apart (the two-line header), so neighbours differ
      // there, while the low 6 bits are 0 in every (line-aligned) cell.
      constexpr unsigned table_bits = 16, cell_low_bits = 7;
      static_assert(sizeof(cell_base) >= (std::size_t{1} << cell_low_bits));
      static std::atomic<std::uint16_t> last_ran[1u << table_bits];
      auto& slot = last_ran[(reinterpret_cast<std::uintptr_t>(c) >> cell_low_bits) &
                            ((1u << table_bits) - 1)];
      std::uint16_t prev =
          slot.exchange(static_cast<std::uint16_t>(w.index + 1), std::memory_order_relaxed);
      if (prev != 0 && prev != w.index + 1) w.stats.moves++;
    }
#endif
    if (run_activation(c, budget, &w) == activation_end::more) requeue(w, c);
  }
  leave_searching(w);
  this_worker = nullptr;
}

cell_base* worker_pool::park(worker& w) {
  // Returns a cell a nap found, or nullptr (woken, or work is visible):
  // see idle_workers.hpp. After a nap: a cell handed back into our own slot,
  // a stale LIFO occupant, then what a searcher would take —
  // deque work the steal gate allows (steal_gate.hpp: a top unchanged
  // since the previous nap has waited longer than the wait) and injected
  // work.
  // `parked` is stored before idle_.park() registers us, and so before its
  // seq_cst fence; the look at our own slot after it is the other half of
  // hand_back()'s fence argument.
  w.set_phase(worker::phase::parked);
  return idle_.park(
      w.index, [this, &w] { return w.lifo.occupied() || announced_work_visible(); },
      [this] { return quitting(); },
      [this, &w]() -> cell_base* {
        if (cell_base* c = w.lifo.take()) return c;
        w.search_now = std::chrono::steady_clock::now();
        if (cell_base* c = steal_stuck_lifo(w)) return c;
        return steal(w);
      });
}

bool worker_pool::quitting() const noexcept {
  return stopping_.load(std::memory_order_acquire) || retired_.load(std::memory_order_acquire);
}

void worker_pool::stop_and_join() {
  if (crowds_cores_) {
    crowds_cores_ = false;
    envelope_pool::count_crowded_pool(-1);
  }
  stopping_.store(true, std::memory_order_release);
  idle_.wake_all();
  for (auto& w : workers_) {
    if (w->thread.joinable()) {
      if (w->thread.get_id() == std::this_thread::get_id()) {
        w->thread.detach();  // a pool cannot join itself; it is exiting anyway
      } else {
        w->thread.join();
      }
    }
  }
  if constexpr (sched_stats_on) print_stats();
}

void worker_pool::print_stats() {
  if (settings_.deterministic_seed || workers_.empty() || stats_printed_) return;
  stats_printed_ = true;
#if defined(VOLLEY_SCHED_STATS) && VOLLEY_SCHED_STATS
  scheduler_stats sum;
  for (auto& w : workers_) sum.add(w->stats);
  const auto wake = idle_.counts();
  const auto futex = futex_calls();  // the whole process's, not this pool's alone
  const auto u = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
  std::fprintf(stderr,
               "volley-sched-stats pool=%s workers=%zu activations=%llu lifo=%llu deque=%llu "
               "injection=%llu injection_cells=%llu injection_polls=%llu injected=%llu "
               "searches=%llu unadmitted=%llu "
               "search_ms=%.1f steal_attempts=%llu steals=%llu stolen=%llu lifo_thefts=%llu "
               "parks=%llu park_ms=%.1f notifies=%llu wakes=%llu fanout_wakes=%llu "
               "park_fanout_wakes=%llu fill_wakes=%llu nap_find_wakes=%llu "
               "returned_searching=%llu search_yields=%llu futex_wakes_by_workers=%llu "
               "futex_wakes_by_others=%llu futex_waits=%llu\n",
               settings_.name.c_str(), workers_.size(), u(sum.activations), u(sum.lifo_picks),
               u(sum.deque_picks), u(sum.injection_picks), u(sum.injection_cells),
               u(sum.injection_polls), u(injected_.load(std::memory_order_relaxed)),
               u(sum.searches), u(sum.unadmitted), static_cast<double>(sum.search_ns) / 1e6,
               u(sum.steal_attempts), u(sum.steals), u(sum.stolen_cells), u(sum.lifo_thefts),
               u(sum.parks), static_cast<double>(sum.park_ns) / 1e6, u(wake.notifies),
               u(wake.wakes), u(wake.fanout_wakes), u(wake.park_fanout_wakes), u(wake.fill_wakes),
               u(wake.nap_find_wakes), u(wake.returned_searching), u(sum.search_yields),
               u(futex.wakes_by_workers), u(futex.wakes_by_others), u(futex.waits));
  std::fprintf(
      stderr,
      "  moves=%llu (activations on another worker than the cell's last) "
      "handbacks=%llu outrun_waits=%llu outrun_naps=%llu outrun_misses=%llu "
      "outrun_wait_ms=%.1f outrun_lowered=%llu envelope_chunks=%zu envelope_kib_out=%zu "
      "spawner_yields=%llu\n",
      (unsigned long long)sum.moves, (unsigned long long)sum.handbacks,
      u(envelope_pool::waits_for_returns()), u(envelope_pool::naps_for_returns()),
      u(envelope_pool::waits_without_return()), static_cast<double>(envelope_pool::wait_ns()) / 1e6,
      u(envelope_pool::counts_lowered()), envelope_pool::current().chunks_live,
      envelope_pool::bytes_out() / 1024, u(run_ahead_yields.load(std::memory_order_relaxed)));
  for (auto& w : workers_) {
    std::fprintf(
        stderr, "  worker %u: activations=%llu steals=%llu searches=%llu parks=%llu park_ms=%.1f\n",
        w->index, (unsigned long long)w->stats.activations, (unsigned long long)w->stats.steals,
        (unsigned long long)w->stats.searches, (unsigned long long)w->stats.parks,
        static_cast<double>(w->stats.park_ns) / 1e6);
  }
#endif
}

void worker_pool::retire() noexcept {
  retired_.store(true, std::memory_order_release);
  idle_.wake_all();
}

bool worker_pool::run_one() {
  cell_base* c;
  {
    detail::lock_guard lock(ready_mu_);
    if (ready_.empty()) return false;
    std::size_t i = static_cast<std::size_t>(rng_() % ready_.size());
    c = ready_[i];
    ready_[i] = ready_.back();
    ready_.pop_back();
  }
  // Blocking calls from handlers must be refused here as on any worker.
  worker* saved = this_worker;
  this_worker = workers_.front().get();
  activation_end end = run_activation(c, 1, nullptr);  // one message: the finest interleaving
  this_worker = saved;
  if (end == activation_end::more) {
    detail::lock_guard lock(ready_mu_);
    ready_.push_back(c);
  }
  return true;
}

void worker_pool::drain_on_caller() {
  joined_.store(true, std::memory_order_relaxed);  // from now on schedule() runs cells inline
  // seq_cst: pairs with the fence in drain_if_joined(); see there.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  for (auto& w : workers_) {
    if (cell_base* l = w->lifo.take()) injection_.push(l);
    while (auto c = w->local.pop()) injection_.push(*c);
  }
  drain_queued();
}

void worker_pool::drain_queued() noexcept {
  while (run_one()) {  // deterministic mode: what is still ready
  }
  while (auto c = injection_.try_pop()) run_to_idle(*c);
}

void worker_pool::run_to_idle(cell_base* c) noexcept {
  while (run_activation(c, unbounded_budget, nullptr) == activation_end::more) {
  }
}

}  // namespace volley::detail
