// engine/src/idle_workers.hpp — how a pool's workers go to sleep and are woken.
//
// What it is for
// --------------
// The idle half of the scheduler (Tokio's idle.rs and park.rs): which worker
// searches for work, which sleeps on its futex, and who wakes whom when work
// appears. worker_pool (scheduler.cpp) owns one and calls it where work is
// published and where a worker runs out of work; the queues themselves stay
// in the pool and reach this class only through the `work_visible` look it
// is handed.
//
// The protocol
// ------------
// `searching_` counts workers looking for work (stealing), `sleeping_` those
// on the sleepers list. Whoever makes work visible to other workers calls
// notify(): it wakes one sleeper only when nobody is searching (a searcher
// will find the work), and counts the woken worker as searching at once so
// concurrent notifiers do not wake a second one for the same work (a woken
// worker on its way counts as a searcher). At most half the pool searches at
// a time (start_searching). When the last searcher finds work it wakes
// another worker if more work is visible (leave_searching; the pool's look
// there is announced work, plus the deques only after a deque steal), so
// bursts fan out and single items cause no chain. A searcher that gives up
// and parks drops its count and registers; if its look then finds announced
// work it comes back searching and fans out, as above, only once it has
// taken an item (park()): a worker is not woken for the one item the
// parking searcher then takes itself.
//
// No lost wake-up: a worker about to park registers as a sleeper, then
// (seq_cst fence) looks once more at every queue whose publishers notify
// (the pool's `work_visible` look it is handed); a notifier publishes its
// work, then (seq_cst fence) reads the counters. By the fences' total order
// one of them sees the other: either the notifier sees the sleeper and wakes
// it, or the sleeper sees the work and does not sleep. The last searcher's
// decrement is followed by the same fence before its look, against a
// notifier that saw it still searching and left.
//
// Naps: while another worker is awake a parked worker naps
// (`lifo_watch_interval`) instead of sleeping for good, and after each nap
// runs `steal_stale()`: the pool looks for a stale LIFO occupant
// (lifo_slot.hpp), deque work the steal gate allows (steal_gate.hpp: it has
// waited), and injected work. Once every
// worker sleeps they sleep for good (`deep_sleepers_`; no CPU), and filling an
// empty LIFO slot wakes one of them if nobody searches (fill_hint).
//
// The wake word: notify() and wake_all() store 1 into the sleeper's word and
// futex-wake it; the sleeper exchanges it back to 0, so a wake that lands
// before the sleeper waits is not lost (the futex returns at once when the
// word is not 0), and one that lands after it left the list on its own is
// consumed before its next park (leave_sleepers).
//
// Template parameter `Sync`: the atomics, the seq_cst fence, the mutex and
// the futex (`os_idle_sync` below). tests/checker/idle_workers_checker_test
// instantiates it with model atomics and a model futex (a wait returns once
// the word is no longer the expected value) and checks, under every schedule
// of two workers, a producer and a stopper within a preemption bound, that
// no pushed item is stranded while every worker sleeps; a known-bad park
// (no look at the queues after registering as a sleeper) must be caught.
//
// Memory orders, and what checks them: the explorer runs sequentially
// consistent executions, in which the three seq_cst fences (notify(),
// register_sleeper(), leave_searching()) do nothing. Their job, each side's
// write made visible before its read of the other side's word, is checked by
// tests/checker/idle_workers_fences.pml: spin, with a store buffer per thread
// (RMWs included, as the C++ model allows), finds no lost wake-up with all
// three, and one with each of them removed (CTest: idle_workers_*_spin).
// A searcher that gives up and parks drops its count and registers before
// the one register_sleeper() fence, and that fence alone must let its look
// see a push that read it as searching: idle_workers_park_fences.pml (holds
// with the fence, loses the item without it). The
// counters are otherwise relaxed: they are hints read after a fence or under
// mu_, and the sleepers list under mu_ is the truth. The wake word is
// release/acq_rel so a woken worker sees what its waker wrote before waking it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <vector>

#include <volley/engine/detail/cell.hpp>  // cache_line_size
#include <volley/engine/detail/thread_safety.hpp>

namespace volley::detail {

bool futex_wait_until(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                      std::optional<std::chrono::steady_clock::time_point> deadline) noexcept;
void futex_wake_one(std::atomic<std::uint32_t>& word) noexcept;

/// The futex system calls futex.cpp made so far in this process, for the
/// tests that bound them per message and for measurement builds' stats
/// line: wakes made by a pool's workers (a fan-out, a reply to a blocked
/// asker), wakes made by other threads (an outside sender's notify(), a
/// stop), and waits (parks, naps, blocking asks, a shutdown's wait for the
/// root). Not counted: the futexes inside glibc's mutexes and condition
/// variables (the timer thread's sleep and its wake-ups, contended locks),
/// which strace -c -f shows. Relaxed counts beside a system call of 1-40
/// µs: they cost nothing measurable and are always on; each is counted
/// just before its call.
struct futex_call_counts {
  std::uint64_t wakes_by_workers = 0;
  std::uint64_t wakes_by_others = 0;
  std::uint64_t waits = 0;
};
futex_call_counts futex_calls() noexcept;

// How long a parked worker naps, while another worker is awake, before it
// looks at the other workers' LIFO slots for an actor stuck behind a long
// handler (then takes it). The cost of a nap is one futex timeout and a look
// at every worker's slot, a few µs: at 1 ms that is under 1% of a core per
// napping worker. A stuck actor waits at most two naps (the first look
// records the slot, the second sees it unchanged).
//
// What the naps may cost on a VM (issue 11), measured, not changed. The
// runner's cross-core probe on the 2-vCPU KVM VM reads ~70 or ~115 ns, or
// ~420 ns ("slow": the host has placed the two vCPUs far apart, and every
// cross-core transfer costs ~4x). Hypothesis: a vCPU that halts and wakes
// ~1,000 times a second (a napping worker) gives the host as many chances
// to move it. The lead's worker sweeps support it, weakly (results/amd-
// epyc-f25m1-2c, T06-30-21Z and T05-14-54Z, volley runs whose probe before
// read typical, share whose probe after read slow): 1 worker (second vCPU
// idle) 35/230 and 19/105; 2 workers, one busy and one napping (> 500
// voluntary switches and < 1.2 CPU per wall second: ping-pong, dining
// philosophers, the dictionary, thread ring, chameneos, big ...) 53/119 and
// 26/54; 2 workers, both busy, few naps (> 1.8 CPU per wall second, < 150
// switches: matrix multiplication, n-queens, trapezoid, fibonacci,
// producer-consumer) 19/62 and 2/24. A/B in one stats binary
// (VOLLEY_NAP_US=1000 against 10000, alternating runner invocations of
// ping-pong, thread ring, dining philosophers, the dictionary, fork-join
// creation and throughput and matrix multiplication at 2 workers, 3 runs
// each, 7 rounds): the 10 ms nap cut ping-pong's voluntary switches from
// 1,524 to 224 per run, but other helpers' builds held the VM at load ~8
// (others_busy 0.72-0.88), its vCPUs never idle, and the probe read slow
// before 72% / 80% of the runs: typical -> slow 9/41 (1 ms) against 12/34
// (10 ms). Per-round throughput ratios 10 ms / 1 ms, medians of 7 (ranges
// 0.4-3.4): ping-pong 0.85, thread ring 0.64, dining 0.93, dictionary
// 0.89, fork-join creation 0.79 and throughput 0.87, matrix multiplication
// 1.04. Ping-pong alone, 12 rounds of 3 runs once the load fell to ~4
// (others_busy ~0.55): voluntary switches 752 -> 81 per run, typical ->
// slow 2/18 (1 ms) against 2/15 (10 ms), slow -> typical 2/18 against
// 0/21, throughput per-round ratio 1.03 (0.84-1.52): the mode mostly
// carried over from run to run whatever the nap. So the longer nap did
// not win, the hypothesis is not borne out where it could be tested, and
// on a quiet host the test is still to run (VOLLEY_NAP_US, README "stats
// build"). What a longer nap
// costs by construction: a stale LIFO occupant is taken after
// `stalled_wait_before_steal` (20 ms) plus up to two naps (21-22 ms now,
// up to 40 ms at 10 ms), and a napping thief sees a new backlog up to a
// nap later (fork-join, matrix multiplication: the ratios above).
inline constexpr std::chrono::microseconds lifo_watch_interval{1000};

/// The real platform: std::atomic, the annotated mutex, Linux futexes.
struct os_idle_sync {
  template <class T>
  using atomic = std::atomic<T>;
  using mutex = detail::mutex;
  using lock_guard = detail::lock_guard;
  using deadline = std::chrono::steady_clock::time_point;

  static void fence() noexcept { std::atomic_thread_fence(std::memory_order_seq_cst); }
  static deadline nap_deadline() noexcept {
#if defined(VOLLEY_SCHED_STATS) && VOLLEY_SCHED_STATS
    // Measurement builds: VOLLEY_NAP_US overrides the nap, for an A/B in
    // one binary (the nap's figures are at lifo_watch_interval).
    static const std::chrono::microseconds nap{[] {
      const char* env = std::getenv("VOLLEY_NAP_US");
      return env != nullptr ? std::atoll(env) : lifo_watch_interval.count();
    }()};
    return std::chrono::steady_clock::now() + nap;
#else
    return std::chrono::steady_clock::now() + lifo_watch_interval;
#endif
  }
  /// Sleeps while `word` holds `expected` (may return spuriously).
  static void wait(atomic<std::uint32_t>& word, std::uint32_t expected) noexcept {
    futex_wait_until(word, expected, std::nullopt);
  }
  /// As wait(); false once `until` has passed.
  static bool wait_until(atomic<std::uint32_t>& word, std::uint32_t expected,
                         deadline until) noexcept {
    return futex_wait_until(word, expected, until);
  }
  static void wake_one(atomic<std::uint32_t>& word) noexcept {
    futex_wake_one(word);
  }
};

struct idle_workers_test_access;

/// Rules of basic_idle_workers that a measurement build (VOLLEY_SCHED_STATS)
/// can switch back to what they were, for an A/B in one binary
/// (scheduler.cpp reads them from the environment), and that the checker
/// switches for its variants. Always on in the product.
struct wake_rules {
  /// park(): a searcher whose look after registering finds announced work
  /// comes back counted as searching, and fans out only once it has taken
  /// an item (leave_searching); off, it fans out before registering.
  bool return_searching = true;
};

template <class Sync = os_idle_sync>
class basic_idle_workers {
  template <class T>
  using atomic = typename Sync::template atomic<T>;

 public:
  /// One worker's side: its futex word, and whether it counts as searching.
  /// On a line of its own: notifiers write the word of a worker that is
  /// about to run.
  struct alignas(cache_line_size) parker {
    atomic<std::uint32_t> wake_word{0};
    bool searching = false;  ///< owner only (notify() sets it for the woken one before the wake)
  };

  explicit basic_idle_workers(unsigned workers)
      : workers_(workers), parkers_(std::make_unique<parker[]>(workers)) {}

  parker& at(unsigned worker) noexcept { return parkers_[worker]; }

  /// Before the workers start: measurement builds (an A/B in one binary)
  /// and the checker's variants only.
  void set_rules(wake_rules r) noexcept { rules_ = r; }
  bool searching(unsigned worker) const noexcept { return parkers_[worker].searching; }

  // -- a worker that ran out of local work -----------------------------------

  /// Counts the worker as searching (it may steal) if fewer than half the
  /// pool does, so an idle pool does not hammer the busy workers' deques.
  void start_searching(unsigned worker) noexcept {
    unsigned searchers = searching_.load(std::memory_order_relaxed);
    parker& p = at(worker);
    if (!p.searching && 2 * searchers < workers_) {
      p.searching = true;
      searching_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  /// The worker found work. If it was the last searcher and `work_visible()`
  /// says more is queued, another worker is woken to look for it.
  template <class WorkVisible>
  void leave_searching(unsigned worker, WorkVisible&& work_visible) noexcept {
    stop_searching(worker, work_visible, fanout_wakes_);
  }

  /// Parks the worker until it is woken, or until a nap's `steal_stale()`
  /// finds something to run (returned). Returns at once (nullptr) if work is
  /// visible or `quitting()` after it registered.
  ///
  /// A searching worker stops counting as searching, registers, and looks.
  /// Pushes that saw it searching woke nobody, so it is answerable for their
  /// work: if the look finds announced work, it comes back still counted as
  /// searching (wake_rules::return_searching), takes an item itself, and as
  /// the last searcher fans out in leave_searching() only if more is left
  /// then. Without that, it would take one item as a non-searcher, and if
  /// that handler blocked, the next item waited in the injection queue until
  /// some worker's nap ended (up to `lifo_watch_interval`). It used to fan
  /// out before registering instead, for any work visible: when one item had
  /// come, that woke a worker for the item this one then took (an item had
  /// only to arrive in the last moments of a search, which a producer
  /// dribbling into a wide pool makes common). The look's seq_cst fence
  /// (register_sleeper) does the job leave_searching()'s fence did: a push
  /// that read our count before our decrement is seen by the look.
  ///
  /// `RecheckBeforeDeepSleep` and `LastSearcherFansOut` are false only in
  /// the checker's known-bad variants (parking_look_checker_test): the
  /// product always does both. `LastSearcherFansOut` false drops the count
  /// and comes back not searching (the bug the fan-out fixed).
  template <bool RecheckBeforeDeepSleep = true, bool LastSearcherFansOut = true,
            bool NapFindWakesDeepSleeper = true, class WorkVisible, class Quitting,
            class StealStale>
  auto park(unsigned worker, WorkVisible&& work_visible, Quitting&& quitting,
            StealStale&& steal_stale) -> decltype(steal_stale()) {
    parker& p = at(worker);
    const bool was_searching = p.searching;
    if constexpr (LastSearcherFansOut) {
      if (!rules_.return_searching) stop_searching(worker, work_visible, park_fanout_wakes_);
    }
    if (p.searching) {
      p.searching = false;
      searching_.fetch_sub(1, std::memory_order_acq_rel);
    }
    register_sleeper(worker);
    if (work_visible() || quitting()) {
      leave_sleepers(worker);
      if constexpr (LastSearcherFansOut) {
        if (rules_.return_searching && was_searching && !p.searching) {
          p.searching = true;
          searching_.fetch_add(1, std::memory_order_relaxed);
          count(returned_searching_);
        }
      }
      return nullptr;
    }
    return sleep<RecheckBeforeDeepSleep, NapFindWakesDeepSleeper>(worker, quitting, steal_stale);
  }

  // -- whoever publishes work ------------------------------------------------

  /// Work was made visible to other workers: wake one sleeper unless a
  /// worker searches. Call after the publication.
  /// True if it woke one.
  bool notify() noexcept {
    count(notifies_);
    // seq_cst: orders the work just published before reading the counters
    // (pairs with the fence in register_sleeper()).
    Sync::fence();
    if (searching_.load(std::memory_order_relaxed) != 0) return false;
    if (sleeping_.load(std::memory_order_relaxed) == 0) return false;
    unsigned index;
    {
      typename Sync::lock_guard lock(mu_);
      if (sleepers_.empty()) return false;
      index = sleepers_.back();
      sleepers_.pop_back();
      sleeping_.fetch_sub(1, std::memory_order_relaxed);
      // The woken worker starts out searching; count it now so that
      // concurrent notifiers do not wake a second one for the same work.
      searching_.fetch_add(1, std::memory_order_relaxed);
    }
    parker& p = at(index);
    p.wake_word.store(1, std::memory_order_release);
    Sync::wake_one(p.wake_word);
    count(wakes_);
    return true;
  }

  /// Some worker sleeps for good (no nap ends it: only a wake-up does). A
  /// snapshot; a relaxed load of a line that rarely changes.
  bool sleeps_for_good() const noexcept {
    return deep_sleepers_.load(std::memory_order_relaxed) != 0;
  }

  /// An empty LIFO slot was filled. Its worker runs it next, so nobody needs
  /// waking, unless every sleeper sleeps for good (nobody naps to watch for
  /// a stale occupant) and nobody searches. Only a hint: two loads of lines
  /// that rarely change, no fence.
  void fill_hint() noexcept { wake_a_deep_sleeper(fill_wakes_); }

  /// Statistics (scheduler.hpp's scheduler_stats; zero unless built with
  /// VOLLEY_SCHED_STATS): notify() calls, the futex wakes they made, and of
  /// those the wakes by a last searcher that found work (fan-out), by one
  /// that gave up and parked, by a LIFO fill, and by a nap that found work
  /// beside a worker sleeping for good.
  struct wake_counts {
    std::uint64_t notifies = 0, wakes = 0, fanout_wakes = 0, park_fanout_wakes = 0, fill_wakes = 0,
                  nap_find_wakes = 0, returned_searching = 0;
  };
  wake_counts counts() const noexcept {
    wake_counts c;
#if defined(VOLLEY_SCHED_STATS) && VOLLEY_SCHED_STATS
    c.notifies = notifies_.load(std::memory_order_relaxed);
    c.wakes = wakes_.load(std::memory_order_relaxed);
    c.fanout_wakes = fanout_wakes_.load(std::memory_order_relaxed);
    c.park_fanout_wakes = park_fanout_wakes_.load(std::memory_order_relaxed);
    c.fill_wakes = fill_wakes_.load(std::memory_order_relaxed);
    c.nap_find_wakes = nap_find_wakes_.load(std::memory_order_relaxed);
    c.returned_searching = returned_searching_.load(std::memory_order_relaxed);
#endif
    return c;
  }

  /// Stop or retire: every worker wakes (and is not counted as searching).
  void wake_all() noexcept {
    for (unsigned i = 0; i < workers_; ++i) {
      parker& p = at(i);
      p.wake_word.store(1, std::memory_order_release);
      Sync::wake_one(p.wake_word);
    }
  }

 private:
  friend struct idle_workers_test_access;  // the checker's known-bad park

  /// A worker sleeps for good and nobody searches, while we are awake with
  /// work that may need another worker: wake one (it naps beside us from
  /// then on). Two loads of lines that rarely change, no fence: the
  /// argument is the lock of sleep()'s second look (see there).
  template <class Counter>
  void wake_a_deep_sleeper(Counter&& wakes_counter) noexcept {
    if (deep_sleepers_.load(std::memory_order_relaxed) != 0 &&
        searching_.load(std::memory_order_relaxed) == 0) {
      if (notify()) count(wakes_counter);
    }
  }

  /// leave_searching(), counting a wake it makes in `wakes_counter`.
  template <class WorkVisible, class Counter>
  void stop_searching(unsigned worker, WorkVisible& work_visible,
                      Counter&& wakes_counter) noexcept {
    parker& p = at(worker);
    if (!p.searching) return;
    p.searching = false;
    if (searching_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      // seq_cst: orders our decrement before the queue loads below, against
      // a notifier's fence between its push and its read of searching_
      // (notify()). Otherwise both could miss: the notifier sees a searcher
      // and leaves, we see no work and leave it queued (Tokio has the same
      // fence in its transition from searching).
      Sync::fence();
      // We were the last searcher and there is more: fan out.
      if (work_visible() && notify()) count(wakes_counter);
    }
  }

  void register_sleeper(unsigned worker) {
    {
      typename Sync::lock_guard lock(mu_);
      sleepers_.push_back(worker);
      sleeping_.fetch_add(1, std::memory_order_relaxed);
    }
    // seq_cst: pairs with the fence in notify(); see the file comment.
    Sync::fence();
  }

  /// True if every worker is registered as a sleeper, read under the lock
  /// that every change of `sleeping_` holds.
  bool every_worker_sleeps() {
    typename Sync::lock_guard lock(mu_);
    return sleeping_.load(std::memory_order_relaxed) >= workers_;
  }

  template <bool RecheckBeforeDeepSleep, bool NapFindWakesDeepSleeper, class Quitting,
            class StealStale>
  auto sleep(unsigned worker, Quitting& quitting, StealStale& steal_stale)
      -> decltype(steal_stale()) {
    parker& p = at(worker);
    for (;;) {
      // Nap while another worker is awake: it may get stuck in one long
      // handler with an actor in its LIFO slot, and only an idle worker can
      // take that actor. Sleep for good once every worker sleeps
      // (sleeping_ counts us too): an idle system uses no CPU.
      //
      // Counted in deep_sleepers_ first, then every_worker_sleeps() again
      // under the lock. Without the second look (parking_look_checker_test's
      // known-bad): we read "all asleep", a push wakes another worker, its
      // handler fills its LIFO slot and waits, its fill_hint() reads no deep
      // sleeper, and we then sleep for good: the slot's occupant waits for
      // the handler to return. With it: a waker takes its worker off the
      // list under the same lock, so either our look comes after and sees a
      // worker awake (we nap), or it came before and our count in
      // deep_sleepers_ happens before the woken worker's fill_hint() (the
      // lock, then the wake word's release/acquire), which then wakes us.
      if (sleeping_.load(std::memory_order_relaxed) >= workers_ || quitting()) {
        deep_sleepers_.fetch_add(1, std::memory_order_relaxed);
        if (!RecheckBeforeDeepSleep || quitting() || every_worker_sleeps()) {
          while (p.wake_word.exchange(0, std::memory_order_acq_rel) == 0)
            Sync::wait(p.wake_word, 0);
          deep_sleepers_.fetch_sub(1, std::memory_order_relaxed);
          break;
        }
        deep_sleepers_.fetch_sub(1, std::memory_order_relaxed);  // one woke: nap beside it
      }
      auto until = Sync::nap_deadline();
      bool woken = false;
      while (!(woken = p.wake_word.exchange(0, std::memory_order_acq_rel) != 0)) {
        if (!Sync::wait_until(p.wake_word, 0, until)) break;  // the nap is over
      }
      if (woken) break;
      // Only what steal_stale() finds (a stale LIFO occupant, deque work
      // the steal gate allows, injected work), not work_visible(): a deque whose
      // owner is getting through it is not ours to take, and leaving the
      // nap for it made the idle worker spin `spin_before_park` on the
      // owner's deque lines after every nap (the pool's steal gate). The
      // no-lost-wake-up argument does not rest on this look: it rests on
      // the one after registering (park()) and on notify().
      auto stale = steal_stale();
      if (stale != nullptr || quitting()) {
        leave_sleepers(worker);
        // While we looked we were still counted as a sleeper, so another
        // worker may have read "every worker sleeps" and gone to sleep for
        // good. If what we took leaves work for others (a batch from the
        // injection queue, a steal's half) and our handler then blocks,
        // nobody would take that work: wake such a sleeper, to nap beside
        // us (found by parking_look_checker_test; the variant without this
        // wake is its known-bad). After leave_sleepers(): a sleeper whose
        // second look under the lock came before ours counted itself in
        // deep_sleepers_ first, and we see it; one whose look comes after
        // sees us awake and naps.
        if constexpr (NapFindWakesDeepSleeper) {
          if (stale != nullptr) wake_a_deep_sleeper(nap_find_wakes_);
        }
        return stale;
      }
    }
    // notify() takes the sleeper off the list and counts it as searching;
    // wake_all() wakes without doing so. Tell which one woke us.
    typename Sync::lock_guard lock(mu_);
    p.searching = !erase_sleeper(worker);
    return nullptr;
  }

  bool erase_sleeper(unsigned worker) noexcept VOLLEY_REQUIRES(mu_) {
    for (auto it = sleepers_.begin(); it != sleepers_.end(); ++it) {
      if (*it == worker) {
        sleepers_.erase(it);
        sleeping_.fetch_sub(1, std::memory_order_relaxed);
        return true;
      }
    }
    return false;
  }

  void leave_sleepers(unsigned worker) noexcept {
    parker& p = at(worker);
    {
      typename Sync::lock_guard lock(mu_);
      if (erase_sleeper(worker)) {
        p.searching = false;  // not woken by anyone: go on as a non-searching worker
        return;
      }
    }
    // A notifier took us off the list and counted us as searching; its
    // wake_word store follows right after its unlock. Consume it, or our next
    // park would take it for a fresh wake-up.
    while (p.wake_word.exchange(0, std::memory_order_acq_rel) == 0) Sync::wait(p.wake_word, 0);
    p.searching = true;
  }

  const unsigned workers_;
  wake_rules rules_;  ///< read on the search and park paths, never per message
  std::unique_ptr<parker[]> parkers_;
  // The counters, on a line of their own: notify() reads them after every
  // publication of work, and they change on every park and wake-up.
  alignas(cache_line_size) atomic<std::uint32_t> searching_{0};
  atomic<std::uint32_t> sleeping_{0};
  atomic<std::uint32_t> deep_sleepers_{0};  ///< parked without a timeout
  // Only on the park/unpark path, never per message.
  alignas(cache_line_size) typename Sync::mutex mu_;
  std::vector<unsigned> sleepers_ VOLLEY_GUARDED_BY(mu_);
#if defined(VOLLEY_SCHED_STATS) && VOLLEY_SCHED_STATS
  using stat = std::atomic<std::uint64_t>;
  alignas(cache_line_size) stat notifies_{0};
  stat returned_searching_{0};
  stat wakes_{0};
  stat fanout_wakes_{0};
  stat park_fanout_wakes_{0};
  stat fill_wakes_{0};
  stat nap_find_wakes_{0};
  static void count(stat& s) noexcept {
    s.fetch_add(1, std::memory_order_relaxed);
  }
#else
  // Names only, so the counting lines compile to nothing: no bytes, no code.
  enum stat {
    notifies_,
    wakes_,
    fanout_wakes_,
    park_fanout_wakes_,
    fill_wakes_,
    nap_find_wakes_,
    returned_searching_
  };
  static void count(stat) noexcept {}
#endif
};

using idle_workers = basic_idle_workers<>;

}  // namespace volley::detail
