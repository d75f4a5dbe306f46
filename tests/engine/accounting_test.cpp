// The accounting chaos test: under stops, kills, failures, restarts,
// stashes and full mailboxes, every message sent is either handled or a
// dead letter — exactly once, no loss, no double count.
//
// A supervised tree (supervisors with restart, restart-with-limit,
// all-for-one, stop, resume, escalate and backoff strategies; children that
// stash, that overflow their stash, with bounded mailboxes) takes millions
// of messages (scaled down under sanitizers) from several threads while a
// chaos thread stops and kills workers and whole supervisors, makes workers
// fail, and spawns replacements. After shutdown:
//
//     sent == handled + dead_letters.count()          (exactly)
//     dead_letters.count() == sum over reasons of dead_letters.count(reason)
//
// What counts as what, precisely:
//  * sent: each tell of a user message (`work`, `fail_now`) by a test
//    thread. Stops and kills are system messages and are not counted.
//  * handled: a worker's handler was entered for the message and did not
//    keep it in the stash. A message whose handler threw (fail_now, or a
//    work message whose ctx.stash() overflowed) counts as handled: the
//    handler consumed it — the engine neither retries nor dead-letters a
//    failed message; the failure goes to the supervisor instead.
//  * a stashed message is counted when a later handler run consumes it
//    (after unstash_all), or it ends as a dead letter: `stashed_on_stop`
//    when the actor stops or restarts with it still in the stash,
//    `recipient_stopped` when it was unstashed but the actor stopped before
//    taking it.
//  * dead letters: recipient_stopped (sent to, or queued at, an actor that
//    stopped, the shutdown included), mailbox_full, stashed_on_stop. Nothing
//    in this workload may produce any other reason.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "engine_test_support.hpp"

using namespace std::chrono_literals;
using volley::dead_letter_reason;
using volley::directive;

namespace {

volley::props bounded(std::uint32_t capacity) {
  volley::props p;
  p.mailbox_capacity = capacity;
  return p;
}

struct work {};
struct fail_now {};

struct chaos_failure : std::runtime_error {
  chaos_failure() : std::runtime_error("chaos: failing on purpose") {}
};

/// Counters written by the actors. Handled counts are spread over padded
/// slots so that workers on different cores do not fight over one line.
struct ledger {
  static constexpr std::size_t slots = 16;
  struct alignas(64) slot {
    std::atomic<std::uint64_t> v{0};
  };
  slot handled[slots];
  std::atomic<std::uint64_t> failures{0};
  std::atomic<std::uint64_t> stashes{0};
  std::atomic<std::uint64_t> restarts{0};

  void count_handled(std::size_t s) {
    handled[s % slots].v.fetch_add(1, std::memory_order_relaxed);
  }
  std::uint64_t total_handled() const {
    std::uint64_t n = 0;
    for (const auto& s : handled) n += s.v.load(std::memory_order_relaxed);
    return n;
  }
};

struct worker;

/// The refs the senders pick from. Supervisors add their children as they
/// spawn them (also after a restart); the chaos thread adds top-level ones.
/// Bounded: a new ref replaces a random old one once it is full.
struct target_pool {
  static constexpr std::size_t max_size = 512;
  std::mutex mu;
  std::vector<volley::actor_ref<worker>> refs;
  std::uint64_t version = 0;
  std::minstd_rand rng{12345};

  void add(volley::actor_ref<worker> r) {
    std::lock_guard lock(mu);
    if (refs.size() < max_size) {
      refs.push_back(std::move(r));
    } else {
      refs[rng() % refs.size()] = std::move(r);
    }
    ++version;
  }
  /// Copy the refs if they changed since `seen`.
  void refresh(std::vector<volley::actor_ref<worker>>& out, std::uint64_t& seen) {
    std::lock_guard lock(mu);
    if (seen == version) return;
    out = refs;
    seen = version;
  }
};

/// How a worker behaves: all copyable, so supervisors can restart it.
struct worker_cfg {
  ledger* l = nullptr;
  std::size_t slot = 0;
  std::uint32_t mailbox_capacity = 0;  ///< 0: unbounded
  std::size_t stash_phase = 0;         ///< 0: never stashes
  std::size_t stash_capacity = 1000;   ///< below stash_phase: overflows every round
};

struct worker {
  explicit worker(worker_cfg c) : c_(c) {}
  void pre_start(volley::context& ctx) {
    if (c_.stash_phase > 0) ctx.set_stash_capacity(c_.stash_capacity);
  }
  void post_restart(const std::exception_ptr&, volley::context& ctx) {
    c_.l->restarts.fetch_add(1, std::memory_order_relaxed);
    pre_start(ctx);
  }

  void on(const work&, volley::context& ctx) {
    if (stashing_) {
      try {
        ctx.stash();
      } catch (...) {
        c_.l->count_handled(c_.slot);  // consumed by the failure (see the file comment)
        throw;
      }
      c_.l->stashes.fetch_add(1, std::memory_order_relaxed);
      if (ctx.stash_size() >= c_.stash_phase) {
        stashing_ = false;
        pass_left_ = c_.stash_phase + 4;  // the unstashed ones, then a few fresh ones
        ctx.unstash_all();
      }
      return;
    }
    c_.l->count_handled(c_.slot);
    if (c_.stash_phase > 0 && --pass_left_ == 0) stashing_ = true;
  }
  void on(const fail_now&) {
    c_.l->count_handled(c_.slot);
    c_.l->failures.fetch_add(1, std::memory_order_relaxed);
    throw chaos_failure();
  }

  worker_cfg c_;
  bool stashing_ = c_.stash_phase > 0;
  std::size_t pass_left_ = 0;
};

/// The kinds of children a supervisor has, round-robin.
worker_cfg kind_of(ledger* l, std::size_t n) {
  worker_cfg c;
  c.l = l;
  c.slot = n;
  switch (n % 5) {
    case 0:
      break;  // plain
    case 1:
      c.mailbox_capacity = 32;
      break;  // bounded
    case 2:
      c.stash_phase = 8;
      break;  // stasher
    case 3:
      c.stash_phase = 64;
      c.stash_capacity = 63;
      break;  // overflows its stash
    case 4:
      c.mailbox_capacity = 16;
      c.stash_phase = 4;
      break;  // bounded stasher
  }
  return c;
}

struct supervisor_cfg {
  ledger* l;
  target_pool* pool;
  volley::supervisor_strategy strategy;
  std::size_t kids;
  std::size_t first_slot;
};

struct supervisor {
  explicit supervisor(supervisor_cfg c) : c_(std::move(c)) {}
  volley::supervisor_strategy supervisor_strategy() const { return c_.strategy; }
  // Also runs after a restart (the default post_restart): fresh children.
  void pre_start(volley::context& ctx) {
    for (std::size_t i = 0; i < c_.kids; ++i) {
      worker_cfg k = kind_of(c_.l, c_.first_slot + i);
      c_.pool->add(ctx.spawn<worker>(bounded(k.mailbox_capacity), k));
    }
  }
  supervisor_cfg c_;
};

volley::supervisor_strategy strategy_of_kind(std::size_t n) {
  using S = volley::supervisor_strategy;
  auto with = [](S s, directive d) {
    s.decide([d](const std::exception_ptr&) { return d; });
    return s;
  };
  switch (n % 7) {
    case 0:
      return with(S::one_for_one(), directive::restart).at_most(1'000'000, std::chrono::hours(1));
    case 1:
      return with(S::one_for_one(), directive::restart).at_most(3, std::chrono::hours(1));
    case 2:
      return with(S::all_for_one(), directive::restart).at_most(1'000'000, std::chrono::hours(1));
    case 3:
      return with(S::one_for_one(), directive::stop);
    case 4:
      return with(S::one_for_one(), directive::resume);
    case 5:
      return with(S::one_for_one(), directive::restart)
          .at_most(2, std::chrono::hours(1))
          .escalate_when_exhausted();
    default:
      return with(S::one_for_one(), directive::restart)
          .at_most(1'000'000, std::chrono::hours(1))
          .backoff(std::chrono::milliseconds(1), std::chrono::milliseconds(4));
  }
}

}  // namespace

TEST_CASE("every message sent is handled or dead-lettered exactly once, under chaos",
          "[accounting][concurrency]") {
  const std::size_t total = volley::test::scaled(2'000'000);
  constexpr int senders = 3;
  const std::size_t per_sender = total / senders;

  ledger l;
  target_pool pool;
  std::atomic<std::uint64_t> sent{0};
  std::atomic<std::uint64_t> supervisors_spawned{0};
  std::atomic<std::uint64_t> chaos_events{0};
  volley::config cfg;
  cfg.pin = false;
  cfg.dead_letter_log_first = 0;  // millions of expected dead letters: summaries only
  cfg.dead_letter_summary_interval = std::chrono::hours(1);
  volley::system sys(cfg);

  std::size_t next_slot = 0;
  std::vector<volley::actor_ref<supervisor>> sups;
  auto spawn_supervisor = [&](std::size_t kind) {
    sups.push_back(
        sys.spawn<supervisor>(supervisor_cfg{&l, &pool, strategy_of_kind(kind), 5, next_slot}));
    next_slot += 5;
    supervisors_spawned.fetch_add(1, std::memory_order_relaxed);
  };
  for (std::size_t k = 0; k < 14; ++k) spawn_supervisor(k);
  for (std::size_t i = 0; i < 10; ++i) {
    worker_cfg k = kind_of(&l, next_slot++);
    pool.add(sys.spawn<worker>(bounded(k.mailbox_capacity), k));
  }
  REQUIRE(volley::test::wait_until([&] {
    std::lock_guard lock(pool.mu);
    return pool.refs.size() >= 14 * 5 + 10;
  }));

  std::atomic<int> senders_left{senders};
  std::vector<std::thread> threads;
  for (int t = 0; t < senders; ++t) {
    threads.emplace_back([&, t] {
      std::minstd_rand rng(static_cast<unsigned>(1000 + t));
      std::vector<volley::actor_ref<worker>> local;
      std::uint64_t seen = 0;
      std::uint64_t mine = 0;
      for (std::size_t i = 0; i < per_sender; ++i) {
        if (i % 256 == 0) pool.refresh(local, seen);
        const auto& to = local[rng() % local.size()];
        if (rng() % 1000 == 0) {
          to.tell(fail_now{});
        } else {
          to.tell(work{});
        }
        ++mine;
      }
      sent.fetch_add(mine, std::memory_order_relaxed);
      senders_left.fetch_sub(1, std::memory_order_release);
    });
  }

  // Chaos: the test thread itself, until the senders are done.
  {
    std::minstd_rand rng(99);
    std::vector<volley::actor_ref<worker>> local;
    std::uint64_t seen = 0;
    std::uint64_t mine = 0;
    std::size_t kind = 0;
    while (senders_left.load(std::memory_order_acquire) > 0) {
      pool.refresh(local, seen);
      const auto& victim = local[rng() % local.size()];
      // Mostly disruption that the tree recovers from (failures), some
      // deaths, and replacements, so that the senders keep finding live
      // actors as well as dead ones.
      switch (rng() % 20) {
        case 0:
        case 1:
        case 2:
          victim.stop();
          break;
        case 3:
        case 4:
          victim.kill();
          break;
        case 5:
        case 6:
        case 7:
        case 8:
        case 9:
          victim.tell(fail_now{});
          ++mine;
          break;
        case 10:
        case 11:
        case 12:
        case 13:
        case 14:
        case 15: {
          worker_cfg k = kind_of(&l, next_slot++);
          pool.add(sys.spawn<worker>(bounded(k.mailbox_capacity), k));
          break;
        }
        case 16:
        case 17:
          // A whole subtree goes; a new supervisor of the next kind comes.
          if (rng() % 2 == 0) {
            sups[rng() % sups.size()].stop();
          } else {
            sups[rng() % sups.size()].kill();
          }
          spawn_supervisor(kind++);
          break;
        default:
          break;
      }
      chaos_events.fetch_add(1, std::memory_order_relaxed);
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    sent.fetch_add(mine, std::memory_order_relaxed);
  }
  for (auto& t : threads) t.join();

  sys.shutdown();  // workers joined: every count below is final

  const std::uint64_t handled = l.total_handled();
  const auto& dl = sys.dead_letters();
  const std::uint64_t dead = dl.count();
  std::uint64_t by_reason = 0;
  for (int r = 0; r < volley::dead_letter_reason_count; ++r) {
    by_reason += dl.count(static_cast<dead_letter_reason>(r));
  }
  INFO("sent " << sent.load() << ", handled " << handled << ", dead letters " << dead
               << " (recipient_stopped " << dl.count(dead_letter_reason::recipient_stopped)
               << ", mailbox_full " << dl.count(dead_letter_reason::mailbox_full)
               << ", stashed_on_stop " << dl.count(dead_letter_reason::stashed_on_stop) << ")"
               << ", failures " << l.failures.load() << ", restarts " << l.restarts.load()
               << ", stashes " << l.stashes.load() << ", chaos events " << chaos_events.load()
               << ", supervisors " << supervisors_spawned.load());
  CHECK(sent.load() == handled + dead);
  CHECK(by_reason == dead);
  CHECK(dl.count(dead_letter_reason::unhandled) == 0);
  CHECK(dl.count(dead_letter_reason::timer_cancelled) == 0);
  CHECK(dl.count(dead_letter_reason::reply_undeliverable) == 0);
  CHECK(dl.count(dead_letter_reason::remote_failure) == 0);
  CHECK(dl.count(dead_letter_reason::stashed_on_stop) <= l.stashes.load());
  CHECK(handled > 0);
  std::printf(
      "accounting: sent %llu = handled %llu + dead letters %llu (recipient_stopped %llu, "
      "mailbox_full %llu, stashed_on_stop %llu); failures %llu, restarts %llu, stashes %llu, "
      "chaos events %llu\n",
      static_cast<unsigned long long>(sent.load()), static_cast<unsigned long long>(handled),
      static_cast<unsigned long long>(dead),
      static_cast<unsigned long long>(dl.count(dead_letter_reason::recipient_stopped)),
      static_cast<unsigned long long>(dl.count(dead_letter_reason::mailbox_full)),
      static_cast<unsigned long long>(dl.count(dead_letter_reason::stashed_on_stop)),
      static_cast<unsigned long long>(l.failures.load()),
      static_cast<unsigned long long>(l.restarts.load()),
      static_cast<unsigned long long>(l.stashes.load()),
      static_cast<unsigned long long>(chaos_events.load()));
}
