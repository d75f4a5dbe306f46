// engine/src/scheduler.cpp — worker pools. The protocol is described in scheduler.hpp.
#include "scheduler.hpp"

#include <cstdio>

#include <volley/affinity/pinning.hpp>
#include <volley/engine/ask.hpp>
#include <volley/engine/detail/cell.hpp>

#include "allocator_numa.hpp"

namespace volley::detail {

void futex_wake_one(std::atomic<std::uint32_t>& word) noexcept;

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

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace

worker* current_worker() noexcept { return this_worker; }
bool on_worker_thread() noexcept { return this_worker != nullptr; }

worker_pool::worker_pool(system_core* core, pool_settings settings)
    : core_(core), settings_(std::move(settings)), rng_(settings_.deterministic_seed.value_or(0)) {
  for (const auto& slot : settings_.plan.workers) {
    auto w = std::make_unique<worker>();
    w->pool = this;
    w->index = slot.index;
    w->pu = slot.pu;
    w->numa_node = slot.numa_node;
    w->steal_order = slot.steal_order;
    workers_.push_back(std::move(w));
  }
}

worker_pool::~worker_pool() { stop_and_join(); }

void worker_pool::start() {
  if (settings_.deterministic_seed) return;  // the test's thread runs everything
  for (auto& w : workers_) {
    worker* wp = w.get();
    wp->thread = std::thread([this, wp] { run(*wp); });
  }
}

void worker_pool::schedule(cell_base* c) noexcept {
  if (joined_.load(std::memory_order_acquire)) {
    // The workers are gone (the system has shut down): a late system message
    // to a dead actor (a stop, an unwatch from a remote node's teardown) is
    // run here, by its sender, which now owns the cell. Otherwise it would
    // wait in a queue nobody reads, holding the cell and the system core.
    while (run_activation(c, 1u << 30, nullptr) == activation_end::more) {
    }
    return;
  }
  if (settings_.deterministic_seed) {
    std::lock_guard lock(ready_mu_);
    ready_.push_back(c);  // test mode only: running out of memory here terminates
    return;
  }
  worker* w = this_worker;
  if (w != nullptr && w->pool == this) {
    // Woken by the actor running on this worker: run it next, here, while
    // the message it was sent is still in this core's cache. An occupant it
    // displaces goes to the deque. Either way someone idle should look:
    // notify() wakes a sleeper only when nobody is searching already, so a
    // ping-pong costs at most one wake-up per spin_before_park, and the
    // searcher takes the slot only if this worker stays inside one
    // activation for a whole search pass (see steal_lifo) — which is what a
    // producer sending millions of messages from one handler does.
    // release: a thief that takes the slot sees the cell as we left it.
    cell_base* displaced = w->lifo.exchange(c, std::memory_order_acq_rel);
    if (displaced != nullptr) {
      if (!w->local.push(displaced)) injection_.push(displaced);
      notify();  // work in the deque: the full protocol, no lost wake-up
    } else if (searching_.load(std::memory_order_relaxed) == 0 &&
               sleeping_.load(std::memory_order_relaxed) != 0) {
      // Only a hint (this worker runs the slot itself anyway), so no fence:
      // two loads of lines that rarely change, per message.
      notify();
    }
    return;
  }
  injection_.push(c);
  notify();
}

void worker_pool::requeue(worker& w, cell_base* c) noexcept {
  if (!w.local.push(c)) injection_.push(c);
  // No notify: this worker goes straight back to its queues, and if it has
  // more than it can run, the others find it when they search. Waking
  // someone per batch would be exactly the per-message wake we avoid.
}

void worker_pool::notify() noexcept {
  // seq_cst: orders the work we just published before reading the counters
  // (pairs with the fence in park()).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (searching_.load(std::memory_order_relaxed) != 0) return;
  if (sleeping_.load(std::memory_order_relaxed) == 0) return;
  unsigned index;
  {
    std::lock_guard lock(sleepers_mu_);
    if (sleepers_.empty()) return;
    index = sleepers_.back();
    sleepers_.pop_back();
    sleeping_.fetch_sub(1, std::memory_order_relaxed);
    // The woken worker starts out searching; count it now so that
    // concurrent notifiers do not wake a second one for the same work.
    searching_.fetch_add(1, std::memory_order_relaxed);
  }
  worker& w = *workers_[index];
  w.wake_word.store(1, std::memory_order_release);
  futex_wake_one(w.wake_word);
}

void worker_pool::leave_searching(worker& w) noexcept {
  if (!w.searching) return;
  w.searching = false;
  if (searching_.fetch_sub(1, std::memory_order_acq_rel) == 1 && work_visible()) {
    notify();  // we were the last searcher and there is more: fan out
  }
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
    if (auto c = injection_.try_pop()) return *c;
  }
  // The slot is read first (plain load) so the common empty case costs no
  // RMW; taking it is an exchange because a thief may race us for it.
  if (w.lifo.load(std::memory_order_relaxed) != nullptr) {
    cell_base* l = w.lifo.exchange(nullptr, std::memory_order_acq_rel);
    if (l != nullptr) {
      // The streak bound exists for the deque's sake; with nothing waiting
      // there, pushing the slot's actor through the deque would only hand a
      // ping-pong partner to a spinning thief on another core.
      if (w.lifo_streak < max_lifo_streak || w.local.empty_approx()) {
        ++w.lifo_streak;
        return l;
      }
      // The streak is over: the slot's actor queues behind the deque's.
      w.lifo_streak = 0;
      if (!w.local.push(l)) injection_.push(l);
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
      return oldest;
    }
  }
  if (auto c = w.local.pop()) return *c;
  if (auto c = injection_.try_pop()) return *c;
  return nullptr;
}

cell_base* worker_pool::steal(worker& w) noexcept {
  for (unsigned victim : w.steal_order) {
    if (victim >= workers_.size()) continue;
    if (auto c = workers_[victim]->local.steal_half(w.local)) return *c;
  }
  if (auto c = injection_.try_pop()) return *c;
  return nullptr;
}

cell_base* worker_pool::steal_stuck_lifo(worker& thief) noexcept {
  // Take a victim's LIFO slot only if the same actor has sat in it since our
  // previous look (a few µs of searching ago): its worker is stuck in one
  // long activation. A worker that is moving along keeps its slot — that is
  // the slot's point — and is not disturbed: we read its slot once per look,
  // never its other state.
  if (thief.seen_lifo.size() < workers_.size()) thief.seen_lifo.resize(workers_.size(), nullptr);
  for (unsigned victim : thief.steal_order) {
    if (victim >= workers_.size()) continue;
    cell_base* now = workers_[victim]->lifo.load(std::memory_order_relaxed);
    cell_base*& seen = thief.seen_lifo[victim];
    bool stuck = now != nullptr && now == seen;
    seen = now;
    if (stuck && workers_[victim]->lifo.compare_exchange_strong(now, nullptr, std::memory_order_acq_rel)) {
      seen = nullptr;
      return now;
    }
  }
  return nullptr;
}

void worker_pool::run(worker& w) {
  this_worker = &w;
  set_thread_numa_node(w.numa_node, settings_.topology ? settings_.topology->numa_nodes() : 1);
  if (settings_.topology != nullptr && settings_.plan.pinned && w.pu >= 0) {
    affinity::pin_current_thread(*settings_.topology, w.pu);
  }
  const unsigned budget = settings_.throughput;
  for (;;) {
    cell_base* c = next_local(w);
    if (c == nullptr) {
      // Search: only half the pool at a time, so an idle pool does not
      // hammer the busy workers' deques with steal attempts.
      auto deadline = std::chrono::steady_clock::now() + settings_.spin_before_park;
      unsigned searchers = searching_.load(std::memory_order_relaxed);
      if (!w.searching && 2 * searchers < workers_.size()) {
        w.searching = true;
        searching_.fetch_add(1, std::memory_order_relaxed);
      }
      for (unsigned spins = 0; c == nullptr; ++spins) {
        c = w.searching ? steal(w) : injection_.try_pop().value_or(nullptr);
        if (c == nullptr) c = next_local(w);  // a thief may have pushed into ours
        if (c != nullptr) break;
        if (stopping_.load(std::memory_order_acquire) && !work_visible()) break;
        if ((spins & 63) == 63) {
          if (w.searching && (c = steal_stuck_lifo(w)) != nullptr) break;
          if (std::chrono::steady_clock::now() >= deadline) break;
          // Let a thread that shares this core (an asker woken by a reply,
          // a sender) run now rather than at the end of our spin.
          std::this_thread::yield();
        }
        cpu_relax();
      }
      if (c == nullptr) {
        if (stopping_.load(std::memory_order_acquire) && !work_visible()) break;
        if (retired_.load(std::memory_order_acquire) && !work_visible()) break;
        park(w);
        continue;
      }
    }
    // Whichever way the work was found — stolen while searching, or picked
    // from our own queues right after a wake-up that counted us as
    // searching — we are not searching any more. Missing this left
    // searching_ at 1 for good, so notify() never woke anyone again.
    leave_searching(w);
    if (run_activation(c, budget, &w) == activation_end::more) requeue(w, c);
  }
  leave_searching(w);
  this_worker = nullptr;
}

void worker_pool::park(worker& w) {
  if (w.searching) {
    w.searching = false;
    searching_.fetch_sub(1, std::memory_order_acq_rel);
  }
  {
    std::lock_guard lock(sleepers_mu_);
    sleepers_.push_back(w.index);
    sleeping_.fetch_add(1, std::memory_order_relaxed);
  }
  // seq_cst: pairs with the fence in notify(); see the file comment.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  bool quitting = stopping_.load(std::memory_order_acquire) || retired_.load(std::memory_order_acquire);
  if (work_visible() || quitting) {
    std::lock_guard lock(sleepers_mu_);
    for (auto it = sleepers_.begin(); it != sleepers_.end(); ++it) {
      if (*it == w.index) {
        sleepers_.erase(it);
        sleeping_.fetch_sub(1, std::memory_order_relaxed);
        return;  // not woken by anyone: go on as a non-searching worker
      }
    }
    // A notifier already took us off the list and counted us as searching;
    // fall through to consume its wake-up.
  }
  while (w.wake_word.exchange(0, std::memory_order_acq_rel) == 0) {
    futex_wait_until(w.wake_word, 0, std::nullopt);
  }
  // notify() takes the sleeper off the list and counts it as searching;
  // stop/retire wake everyone without doing so. Tell which one woke us.
  std::lock_guard lock(sleepers_mu_);
  for (auto it = sleepers_.begin(); it != sleepers_.end(); ++it) {
    if (*it == w.index) {
      sleepers_.erase(it);
      sleeping_.fetch_sub(1, std::memory_order_relaxed);
      w.searching = false;
      return;
    }
  }
  w.searching = true;
}

void worker_pool::stop_and_join() {
  stopping_.store(true, std::memory_order_release);
  for (auto& w : workers_) {
    w->wake_word.store(1, std::memory_order_release);
    futex_wake_one(w->wake_word);
  }
  for (auto& w : workers_) {
    if (w->thread.joinable()) {
      if (w->thread.get_id() == std::this_thread::get_id()) {
        w->thread.detach();  // a pool cannot join itself; it is exiting anyway
      } else {
        w->thread.join();
      }
    }
  }
}

void worker_pool::retire() noexcept {
  retired_.store(true, std::memory_order_release);
  for (auto& w : workers_) {
    w->wake_word.store(1, std::memory_order_release);
    futex_wake_one(w->wake_word);
  }
}

bool worker_pool::run_one() {
  cell_base* c;
  {
    std::lock_guard lock(ready_mu_);
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
    std::lock_guard lock(ready_mu_);
    ready_.push_back(c);
  }
  return true;
}

void worker_pool::drain_on_caller() {
  joined_.store(true, std::memory_order_release);  // from now on schedule() runs cells inline
  while (run_one()) {  // deterministic mode: what is still ready
  }
  for (auto& w : workers_) {
    if (cell_base* l = w->lifo.exchange(nullptr)) injection_.push(l);
    while (auto c = w->local.pop()) injection_.push(*c);
  }
  while (auto c = injection_.try_pop()) {
    while (run_activation(*c, 1u << 30, nullptr) == activation_end::more) {
    }
  }
}

}  // namespace volley::detail
