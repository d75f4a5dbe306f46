// Stress tests of scheduling and batched dispatch (engine/src/scheduler.*,
// activation.cpp): an actor is never run by two workers at once, each
// sender's messages arrive in order, and no message is lost or left
// unscheduled — with many senders, many actors, batches of 1 and of the
// default size, and different worker counts. Sizes shrink under sanitizers.
#include <unistd.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <future>
#include <list>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../../engine/src/scheduler.hpp"  // current_worker(): which worker runs a handler
#include "../proc_threads.hpp"
#include "engine_test_support.hpp"

using namespace std::chrono_literals;
using volley::test::gate;
using volley::test::scaled;
using volley::test::wait_until;

namespace {

// -- one actor, many senders -------------------------------------------------------------

constexpr int sender_threads = 8;

struct numbered {
  std::uint32_t sender;
  std::uint64_t seq;
};
struct report {};
struct totals {
  std::uint64_t received = 0;
  std::uint64_t out_of_order = 0;
  std::uint64_t overlaps = 0;
};

/// Checks that it is never entered concurrently and that each sender's
/// sequence numbers arrive in order.
struct sequence_checker {
  void on(const numbered& m) {
    if (inside_.exchange(true, std::memory_order_acquire)) ++t_.overlaps;
    if (m.seq != next_[m.sender]) ++t_.out_of_order;
    next_[m.sender] = m.seq + 1;
    ++t_.received;
    inside_.store(false, std::memory_order_release);
  }
  totals on(const report&) { return t_; }

  std::atomic<bool> inside_{false};
  std::uint64_t next_[sender_threads] = {};
  totals t_;
};

// -- many actors, forwarding --------------------------------------------------------------

struct token {
  std::uint32_t id;
  std::uint32_t hops_left;
};
struct set_index {
  std::size_t i;
};
struct ring_done {
  std::atomic<std::uint64_t> tokens{0};
  std::atomic<std::uint64_t> id_sum{0};
  std::atomic<std::uint64_t> hops{0};
};

/// Passes a token on (to its ring neighbour or to a random actor) until its
/// hops are used up, then reports it.
struct forwarder {
  forwarder(ring_done& done, bool random, std::uint64_t seed)
      : done_(done), random_(random), rng_(seed) {}
  void on(const std::vector<volley::actor_ref<forwarder>>* all) { all_ = all; }
  void on(const set_index& s) { my_index = s.i; }
  void on(const token& t, volley::context& ctx) {
    done_.hops.fetch_add(1, std::memory_order_relaxed);
    if (t.hops_left == 0) {
      done_.id_sum.fetch_add(t.id, std::memory_order_relaxed);
      done_.tokens.fetch_add(1, std::memory_order_release);
      return;
    }
    std::size_t next = random_ ? rng_() % all_->size() : (index_of_next());
    (*all_)[next].tell(token{t.id, t.hops_left - 1}, ctx);
  }
  std::size_t index_of_next() { return (my_index + 1) % all_->size(); }

  ring_done& done_;
  bool random_;
  std::mt19937_64 rng_;
  const std::vector<volley::actor_ref<forwarder>>* all_ = nullptr;
  std::size_t my_index = 0;
};

struct counter {
  explicit counter(std::atomic<std::uint64_t>& total) : total_(total) {}
  void on(const numbered&) { total_.fetch_add(1, std::memory_order_relaxed); }
  std::atomic<std::uint64_t>& total_;
};

struct holder {
  explicit holder(gate& g) : g_(g) {}
  void on(const report&) { g_.arrive_and_wait(); }
  gate& g_;
};

/// Tells each of its targets once, then stays inside the handler until all
/// have been handled (or a deadline passes): the first targets wait in this
/// worker's deque, the last (the only one, with one target) in its LIFO
/// slot, and only another worker can run them.
struct queue_holder {
  queue_holder(std::vector<volley::actor_ref<counter>> targets, std::atomic<std::uint64_t>& total)
      : targets_(std::move(targets)), total_(total) {}
  bool on(const report&, volley::context& ctx) {
    std::uint64_t before = total_.load();
    for (auto& t : targets_) t.tell(numbered{0, 0}, ctx);
    return wait_until([&] { return total_.load() >= before + targets_.size(); }, 10s);
  }
  std::vector<volley::actor_ref<counter>> targets_;
  std::atomic<std::uint64_t>& total_;
};

/// `workers` unpinned workers.
volley::config with_workers(unsigned workers) {
  volley::config cfg = volley::test::two_workers();
  cfg.workers = workers;
  return cfg;
}

/// Three rounds of `h` holding its worker while its targets wait there:
/// each must find every target run, by another worker, before it returns.
/// The pause between rounds lets the workers park, so a round starts from
/// a pool that has just started and later ones from one where all park.
void expect_targets_run_elsewhere(const volley::actor_ref<queue_holder>& h) {
  for (int round = 0; round < 3; ++round) {
    INFO("round " << round);
    auto r = h.ask(report{}).get(20s);
    REQUIRE(r.ok());
    CHECK(r.value());                   // every target ran while the holder was inside its handler
    std::this_thread::sleep_for(20ms);  // let the workers park (not a timing assertion)
  }
}

// -- a conversation: one hub, many clients -----------------------------------------------

/// How often the actors of a conversation changed threads between two of
/// their activations, on which threads they ran, and a signal for the
/// test thread when the last client is done (it waits without polling: a
/// thread that woke every few hundred µs would preempt the pinned workers
/// itself).
struct moves {
  std::atomic<std::uint64_t> activations{0};
  std::atomic<std::uint64_t> changed_thread{0};
  std::atomic<std::uint64_t> clients_done{0};
  std::atomic<pid_t> thread_ids[2] = {};  // the workers', as they first run a handler
  std::mutex done_lock;
  std::condition_variable done;

  void ran(std::thread::id& last) {
    std::thread::id now = std::this_thread::get_id();
    activations.fetch_add(1, std::memory_order_relaxed);
    if (last != std::thread::id{} && last != now) {
      changed_thread.fetch_add(1, std::memory_order_relaxed);
      note_thread();
    } else if (last == std::thread::id{}) {
      note_thread();
    }
    last = now;
  }
  void note_thread() {
    static thread_local const pid_t me = gettid();
    for (auto& slot : thread_ids) {
      pid_t seen = slot.load(std::memory_order_relaxed);
      if (seen == me) return;
      if (seen == 0 && slot.compare_exchange_strong(seen, me)) return;
      if (seen == me) return;
    }
  }
  void client_done(std::uint64_t clients) {
    if (clients_done.fetch_add(1, std::memory_order_acq_rel) + 1 == clients) {
      std::lock_guard<std::mutex> hold(done_lock);
      done.notify_all();
    }
  }
  bool wait_done(std::uint64_t clients) {
    std::unique_lock<std::mutex> hold(done_lock);
    return done.wait_for(hold, std::chrono::seconds(60),
                         [&] { return clients_done.load(std::memory_order_acquire) == clients; });
  }
  /// The workers' preemptions over their lives so far (they were started
  /// for this test, just before it).
  std::uint64_t worker_preemptions() const {
    std::uint64_t sum = 0;
    for (const auto& slot : thread_ids) {
      if (pid_t tid = slot.load(); tid != 0)
        sum += static_cast<std::uint64_t>(std::max(0L, volley::test::preemptions_of(tid)));
    }
    return sum;
  }
};

struct client;
struct request {
  volley::actor_ref<client> from;
};
struct answer {};

struct hub {
  explicit hub(moves& m) : m_(m) {}
  void on(const request& r, volley::context& ctx) {
    m_.ran(last_);
    // A little work per request, on state of its own (the dictionary's map).
    for (int i = 0; i < 16; ++i) table_[(next_++ * 40503u) % table_.size()] += 1;
    r.from.tell(answer{}, ctx);
  }
  moves& m_;
  std::thread::id last_;
  std::vector<std::uint64_t> table_ = std::vector<std::uint64_t>(1u << 14);
  std::uint64_t next_ = 0;
};

struct client {
  static constexpr std::uint64_t clients = 32;  // in the conversation, with one hub
  client(volley::actor_ref<hub> h, std::uint64_t requests, moves& m)
      : hub_(std::move(h)), left_(requests), m_(m) {}
  void on(const answer&, volley::context& ctx) {
    m_.ran(last_);
    if (left_-- == 0) {
      m_.client_done(clients);
      return;
    }
    hub_.tell(request{ctx.self_as<client>()}, ctx);
  }
  volley::actor_ref<hub> hub_;
  std::uint64_t left_;
  moves& m_;
  std::thread::id last_;
};

/// Whether a test may assert on figures that rest on timing: not under a
/// sanitizer, where a hub's batch of 64 messages can outlast the steal
/// gate's wait and a thief rightly steals.
constexpr bool timing_asserted =
#if !defined(VOLLEY_TEST_ASAN) && !defined(VOLLEY_TEST_TSAN)
    true;
#else
    false;
#endif

/// Starts a scenario on a fresh two-worker system and waits (60 s at most)
/// until it is done, then shuts the system down.
template <class Start, class Done>
void run_on_two_workers(Start&& start, Done&& done) {
  volley::system sys(volley::test::two_workers());
  start(sys);
  REQUIRE(wait_until(done, 60s));
  sys.shutdown();
}

// -- a conversation without a hub: many actors passing balls --------------------------

struct ball {
  std::uint32_t hops_left;
};

/// Where the balls went: messages handled, balls finished.
struct ball_counts {
  std::atomic<std::uint64_t> handled{0};
  std::atomic<std::uint64_t> balls_done{0};
};

/// Passes each ball to a random other passer (Savina's big without the
/// sink): handlers of a few ns, every message to another actor, and the
/// woken passers waiting in their worker's deque behind the LIFO slot.
struct passer {
  passer(ball_counts& counts, std::uint64_t seed) : counts_(counts), rng_(seed) {}
  void on(const std::vector<volley::actor_ref<passer>>* all) { all_ = all; }
  void on(const ball& b, volley::context& ctx) {
    counts_.handled.fetch_add(1, std::memory_order_relaxed);
    if (b.hops_left == 0) {
      counts_.balls_done.fetch_add(1, std::memory_order_release);
      return;
    }
    (*all_)[rng_() % all_->size()].tell(ball{b.hops_left - 1}, ctx);
  }
  ball_counts& counts_;
  std::mt19937_64 rng_;
  const std::vector<volley::actor_ref<passer>>* all_ = nullptr;
};

/// Passes `balls` balls `hops` times among 48 passers on `workers` unpinned
/// workers; returns the CPU time the pool's workers used (idle ones
/// included), read before shutdown ends them.
long long pass_balls(unsigned workers, std::uint32_t balls, std::uint32_t hops) {
  constexpr std::size_t passers = 48;
  ball_counts counts;
  std::vector<volley::actor_ref<passer>> all;
  long long cpu_ns = 0;
  {
    volley::system sys(with_workers(workers));
    for (std::size_t i = 0; i < passers; ++i) all.push_back(sys.spawn<passer>(counts, 77 + i));
    for (auto& a : all) a.tell(&all);
    for (std::uint32_t i = 0; i < balls; ++i) all[i * 5 % passers].tell(ball{hops});
    REQUIRE(wait_until([&] { return counts.balls_done.load() == balls; }, 60s));
    for (pid_t tid : volley::test::threads_named("volley-w"))
      cpu_ns += std::max(0LL, volley::test::cpu_ns_of(tid));
    sys.shutdown();
  }
  CHECK(counts.handled.load() == std::uint64_t(balls) * (hops + 1));
  return cpu_ns;
}

// -- surplus: actors with work of their own --------------------------------------------

/// Where a grinder's messages ran: on the thread that started the grinders
/// (whose worker they were queued on) or on another.
struct grind_threads {
  std::thread::id starter;
  std::atomic<std::uint64_t> on_starter{0};
  std::atomic<std::uint64_t> elsewhere{0};
  std::atomic<std::uint64_t> grinders_done{0};
};

struct grind {
  std::uint64_t left;
};

/// Works a little on each message and sends itself the next: it always has
/// work left when its activation's budget ends, so its worker requeues it
/// (fork-join's actors with deep mailboxes, without an outside sender).
struct grinder {
  explicit grinder(grind_threads& t) : t_(t) {}
  void on(const grind& g, volley::context& ctx) {
    for (int i = 0; i < 200; ++i) state_ = state_ * 6364136223846793005u + 1442695040888963407u;
    auto& where = std::this_thread::get_id() == t_.starter ? t_.on_starter : t_.elsewhere;
    where.fetch_add(1, std::memory_order_relaxed);
    if (g.left == 0) {
      t_.grinders_done.fetch_add(1, std::memory_order_release);
      return;
    }
    ctx.self_as<grinder>().tell(grind{g.left - 1}, ctx);
  }
  grind_threads& t_;
  std::uint64_t state_ = 1;
};

struct start_grinders {
  std::vector<volley::actor_ref<grinder>> grinders;
  std::uint64_t messages;
};

/// Starts every grinder from one handler, so they all queue on its worker.
struct grind_starter {
  explicit grind_starter(grind_threads& t) : t_(t) {}
  void on(const start_grinders& s, volley::context& ctx) {
    t_.starter = std::this_thread::get_id();
    for (auto& g : s.grinders) g.tell(grind{s.messages - 1}, ctx);
  }
  grind_threads& t_;
};

// -- handing a woken actor back ----------------------------------------------------------

/// The index of the worker running the calling handler.
int worker_index() {
  const volley::detail::worker* w = volley::detail::current_worker();
  return w != nullptr ? static_cast<int>(w->index) : -1;
}

struct probe {};

/// Records which worker handled its last probe.
struct recorder {
  struct seen {
    std::atomic<int> worker{-1};
    std::atomic<int> probes{0};
  };
  explicit recorder(seen& s) : s_(s) {}
  void on(const probe&) {
    s_.worker.store(worker_index());
    s_.probes.fetch_add(1);
  }
  seen& s_;
};

/// One round for a pair of actors: each waits until the other is inside its
/// handler too (so they hold the two workers), then the one on worker
/// `teller` probes the recorder, and the other returns as soon as it has.
struct round_state {
  std::atomic<int> inside{0};
  std::atomic<bool> told{false};
  std::atomic<int> done{0};  ///< members that played their part
};
struct round_ticket {
  round_state* state;
  int teller;
  volley::actor_ref<recorder> target;
};
struct pair_member {
  // Told, not asked: answering an ask from the test's thread wakes it (a
  // futex call, ~13 µs), during which the other worker would find the probe
  // stale in this worker's slot and take it.
  void on(const round_ticket& t, volley::context& ctx) {
    t.state->inside.fetch_add(1);
    if (!wait_until([&] { return t.state->inside.load() == 2; }, 10s)) return;
    if (worker_index() == t.teller) {
      t.target.tell(probe{}, ctx);
      t.state->told.store(true);
    } else {
      // Spin, not sleep: this worker must be seen running when the probe is
      // sent, and be back at its queues right after.
      const auto deadline = std::chrono::steady_clock::now() + 10s;
      while (!t.state->told.load()) {
        if (std::chrono::steady_clock::now() >= deadline) return;
      }
    }
    t.state->done.fetch_add(1);
  }
};

/// Runs one round on the two workers; false if the pair did not meet.
bool play_round(volley::system& sys, int teller, const volley::actor_ref<recorder>& target,
                recorder::seen& seen) {
  round_state state;
  const int probes_before = seen.probes.load();
  auto a = sys.spawn<pair_member>();
  auto b = sys.spawn<pair_member>();
  a.tell(round_ticket{&state, teller, target});
  b.tell(round_ticket{&state, teller, target});
  const bool played = wait_until(
      [&] { return state.done.load() == 2 && seen.probes.load() == probes_before + 1; }, 20s);
  a.stop();
  b.stop();
  return played;
}

}  // namespace

TEST_CASE("one actor fed by 8 threads is never run concurrently and sees each sender in order",
          "[dispatch][concurrency]") {
  const std::uint64_t per_sender = scaled(1'000'000);
  const unsigned throughput = GENERATE(1u, 64u);
  INFO("throughput " << throughput << ", " << per_sender << " messages per sender");
  volley::config cfg;  // default workers (one per core), pinned
  cfg.throughput = throughput;
  volley::system sys(cfg);
  auto checker = sys.spawn<sequence_checker>();
  std::vector<std::thread> senders;
  for (std::uint32_t s = 0; s < sender_threads; ++s) {
    senders.emplace_back([&, s] {
      for (std::uint64_t i = 0; i < per_sender; ++i) checker.tell(numbered{s, i});
    });
  }
  for (auto& t : senders) t.join();
  // Every tell happened before this ask was sent, so it is answered last.
  auto r = checker.ask(report{}).get();
  REQUIRE(r.ok());
  totals t = r.value();
  CHECK(t.overlaps == 0);
  CHECK(t.out_of_order == 0);
  CHECK(t.received == sender_threads * per_sender);
  CHECK(sys.dead_letters().count() == 0);
}

TEST_CASE("tokens forwarded among 1000 actors all arrive, for every worker count and batch size",
          "[dispatch][concurrency]") {
  // 0 = one per core; 16 oversubscribes any small CI machine (more workers
  // than cores: preemption inside the protocols, the case 2 cores hide).
  const unsigned workers = GENERATE(0u, 2u, 4u, 16u);
  const unsigned throughput = GENERATE(1u, 64u);
  const bool random = GENERATE(false, true);
  const std::uint32_t actors = 1000;
  const std::uint32_t tokens = 1000;
  const auto hops =
      static_cast<std::uint32_t>(std::max<std::size_t>(2, scaled(1'000'000) / tokens));
  INFO("workers " << workers << ", throughput " << throughput << (random ? ", random" : ", ring")
                  << ", " << hops << " hops per token");
  volley::config cfg;
  cfg.workers = workers;
  cfg.throughput = throughput;
  ring_done done;
  std::vector<volley::actor_ref<forwarder>> all;
  {
    volley::system sys(cfg);
    all.reserve(actors);
    for (std::uint32_t i = 0; i < actors; ++i) {
      all.push_back(sys.spawn<forwarder>(done, random, 1234 + i));
    }
    for (std::uint32_t i = 0; i < actors; ++i) {
      // The actor's state is only touched by its own handlers: hand it the
      // table and its index as messages.
      all[i].tell(&all);
      all[i].tell(set_index{i});
    }
    for (std::uint32_t i = 0; i < tokens; ++i) all[i % actors].tell(token{i, hops});
    bool finished =
        wait_until([&] { return done.tokens.load(std::memory_order_acquire) == tokens; }, 60s);
    CHECK(finished);
    CHECK(done.tokens == tokens);
    CHECK(done.id_sum == std::uint64_t(tokens) * (tokens - 1) / 2);
    CHECK(done.hops == std::uint64_t(tokens) * (hops + 1));
    CHECK(sys.dead_letters().count() == 0);
    sys.shutdown();
  }
  all.clear();
}

TEST_CASE("bursts from outside threads to many idle actors are all delivered (no lost wake-up)",
          "[dispatch][concurrency]") {
  const unsigned workers = GENERATE(0u, 2u, 4u, 16u);
  volley::config cfg;
  cfg.workers = workers;
  std::atomic<std::uint64_t> total{0};
  volley::system sys(cfg);
  std::vector<volley::actor_ref<counter>> actors;
  for (int i = 0; i < 200; ++i) actors.push_back(sys.spawn<counter>(total));
  const int bursts = static_cast<int>(std::max<std::size_t>(5, scaled(400)));
  const int senders = 3;
  std::uint64_t expected = 0;
  for (int b = 0; b < bursts; ++b) {
    // A burst of a few messages to a few actors, then a pause long enough
    // for every worker to spin out and park: the next burst has to wake them.
    std::vector<std::thread> ts;
    for (int s = 0; s < senders; ++s) {
      ts.emplace_back([&, s, b] {
        for (int k = 0; k < 3; ++k)
          actors[(b * 7 + s * 31 + k * 13) % actors.size()].tell(numbered{0, 0});
      });
    }
    for (auto& t : ts) t.join();
    expected += senders * 3;
    if (b % 4 == 0) {
      REQUIRE(wait_until([&] { return total.load() == expected; }));
      std::this_thread::sleep_for(1ms);
    }
  }
  CHECK(wait_until([&] { return total.load() == expected; }));
}

namespace {

constexpr std::uint32_t burst_producers = 8;

/// What the burst tallies saw, per producer: messages, the sum of their
/// sequence numbers (a lost or doubled message changes it), and sequence
/// numbers that did not increase between two messages to one actor.
struct burst_totals {
  std::atomic<std::uint64_t> count[burst_producers] = {};
  std::atomic<std::uint64_t> seq_sum[burst_producers] = {};
  std::atomic<std::uint64_t> out_of_order{0};
  std::atomic<std::uint64_t> all{0};
};

struct burst_tally {
  explicit burst_tally(burst_totals& t) : t_(t) {}
  void on(const numbered& m) {
    if (m.seq < next_[m.sender]) t_.out_of_order.fetch_add(1, std::memory_order_relaxed);
    next_[m.sender] = m.seq + 1;
    t_.count[m.sender].fetch_add(1, std::memory_order_relaxed);
    t_.seq_sum[m.sender].fetch_add(m.seq, std::memory_order_relaxed);
    t_.all.fetch_add(1, std::memory_order_release);
  }
  burst_totals& t_;
  std::uint64_t next_[burst_producers] = {};
};

}  // namespace

TEST_CASE("bursts from 8 outside producers after idle gaps all arrive on 8 and 16 workers",
          "[dispatch][concurrency]") {
  // The wake-up rules meet their edge cases here: every burst starts from a
  // pool whose workers are searching, napping or asleep for good (the gap
  // before it: none, ~0.3 ms, 3 ms), eight threads push into the injection
  // queue at once, each push finds its actor idle, and most pushes find a
  // worker searching or one already woken and wake nobody. A wake-up the
  // rules lose strands a burst while every worker sleeps for good: the
  // round's wait then fails. Oversubscribed (8 and 16 workers on a small
  // machine), so workers are preempted inside the protocol.
  const unsigned workers = GENERATE(8u, 16u);
  const int rounds = static_cast<int>(std::max<std::size_t>(12, scaled(600)));
  INFO("workers " << workers << ", " << rounds << " rounds");
  constexpr std::size_t actors = 128;
  burst_totals totals;
  std::uint64_t sent[burst_producers] = {};
  std::uint64_t seq_sum[burst_producers] = {};
  {
    volley::system sys(with_workers(workers));
    std::vector<volley::actor_ref<burst_tally>> tallies;
    for (std::size_t i = 0; i < actors; ++i) tallies.push_back(sys.spawn<burst_tally>(totals));
    std::mt19937_64 rng(2024);
    std::uint64_t expected = 0;
    for (int round = 0; round < rounds; ++round) {
      // Burst sizes 1..48 per producer: single messages (one wake-up's
      // worth) as well as runs that need the searchers to fan out.
      std::uint32_t sizes[burst_producers];
      for (auto& n : sizes) n = 1 + static_cast<std::uint32_t>(rng() % 48);
      const std::uint64_t round_seed = rng();
      std::vector<std::thread> producers;
      for (std::uint32_t p = 0; p < burst_producers; ++p) {
        producers.emplace_back([&, p] {
          std::mt19937_64 pick(round_seed + p);
          for (std::uint32_t k = 0; k < sizes[p]; ++k) {
            const std::uint64_t seq = sent[p] + k;
            tallies[pick() % actors].tell(numbered{p, seq});
          }
        });
      }
      for (auto& t : producers) t.join();
      for (std::uint32_t p = 0; p < burst_producers; ++p) {
        for (std::uint32_t k = 0; k < sizes[p]; ++k) seq_sum[p] += sent[p] + k;
        sent[p] += sizes[p];
        expected += sizes[p];
      }
      INFO("round " << round);
      REQUIRE(wait_until([&] { return totals.all.load(std::memory_order_acquire) == expected; }));
      // The gap: none, a short one (searchers spin out), or a long one
      // (every worker parks and then sleeps for good).
      if (round % 3 == 1) std::this_thread::sleep_for(300us);
      if (round % 3 == 2) std::this_thread::sleep_for(3ms);
    }
    CHECK(sys.dead_letters().count() == 0);
    sys.shutdown();
  }
  for (std::uint32_t p = 0; p < burst_producers; ++p) {
    INFO("producer " << p);
    CHECK(totals.count[p].load() == sent[p]);
    CHECK(totals.seq_sum[p].load() == seq_sum[p]);
  }
  CHECK(totals.out_of_order.load() == 0);
}

TEST_CASE("an actor woken by a handler that does not return is run by another worker",
          "[dispatch][concurrency]") {
  // The woken actor goes into the LIFO slot of the worker stuck in the
  // handler; filling the slot wakes nobody any more (a ping-pong pair would
  // keep a second core busy), so it is an idle worker — napping, or woken
  // because every other worker slept — that must notice the stale occupant
  // and take it. Both idle states are met: the first round starts from a
  // pool that has just started, later ones after a pause where all park.
  const unsigned workers = GENERATE(2u, 16u);
  INFO("workers " << workers);
  std::atomic<std::uint64_t> total{0};
  volley::system sys(with_workers(workers));
  std::vector<volley::actor_ref<counter>> target{sys.spawn<counter>(total)};
  auto h = sys.spawn<queue_holder>(target, total);
  expect_targets_run_elsewhere(h);
}

TEST_CASE("an actor blocked in a handler does not keep other actors from running",
          "[dispatch][concurrency]") {
  // Two workers, both parked. The first tell wakes one of them, which runs
  // the holder and stays inside its handler; the second tell must still be
  // handled, by the other worker.
  std::atomic<std::uint64_t> total{0};
  std::list<gate> gates;  // outlive the system: a holder may still be leaving wait()
  volley::system sys(volley::test::two_workers());
  auto c = sys.spawn<counter>(total);
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(50ms);  // let the workers park (not a timing assertion)
    gate& round_gate = gates.emplace_back();
    auto hr = sys.spawn<holder>(round_gate);
    volley::test::open_on_exit round_release{round_gate};
    hr.tell(report{});
    REQUIRE(round_gate.wait_arrived());
    c.tell(numbered{0, 0});
    INFO("round " << round);
    CHECK(wait_until([&] { return total.load() == std::uint64_t(round + 1); }, 10s));
    round_gate.open();
    hr.stop();
  }
}

TEST_CASE("cells queued behind a handler that does not return are run by another worker",
          "[dispatch][concurrency]") {
  // The holder wakes four actors from inside a handler that waits for all
  // four: three wait in its worker's deque, one in the LIFO slot. A thief
  // takes deque cells only once the oldest has waited (steal_gate.hpp,
  // oldest_wait_before_steal), and the slot's occupant once it is stale;
  // both must happen while the holder's worker stays stuck.
  const unsigned workers = GENERATE(2u, 16u);
  INFO("workers " << workers);
  std::atomic<std::uint64_t> total{0};
  volley::system sys(with_workers(workers));
  std::vector<volley::actor_ref<counter>> targets;
  for (int i = 0; i < 4; ++i) targets.push_back(sys.spawn<counter>(total));
  auto h = sys.spawn<queue_holder>(targets, total);
  expect_targets_run_elsewhere(h);
}

TEST_CASE("a hub and its clients stay on one worker while the other has nothing else to do",
          "[dispatch][concurrency]") {
  // A serialised conversation (Savina's concurrent dictionary, chameneos):
  // 32 clients each send a request to one hub and wait for its answer. One
  // worker can run it all; a second that steals the clients it sees queued
  // splits the conversation, and then every message crosses cores (1 → 2
  // workers halved these workloads). A thief now takes only work that has
  // waited (steal_gate.hpp, oldest_wait_before_steal), so the actors should
  // almost never change threads, except when a worker is preempted: its
  // queue then really waits and is rightly stolen, and one preemption can
  // move every actor of the conversation away and back. So the bound counts
  // the two workers' involuntary context switches during the run (read from
  // /proc): moves <= 0.5% of handled messages + 2 * 33 per preemption.
  // Measured here (Release, 2-core VM): quiet, 0.02-0.09% of messages moved
  // with 14-33 preemptions; a loaded fresh-clone CI run measured 2.2%
  // against the fixed 1% bound this replaces. This case guards the outcome,
  // not the gate: with the gate's wait set to 0 (stats build,
  // VOLLEY_STEAL_WAIT_NS=0, load ~10) it still moved only 0.005-0.57%, as
  // the LIFO slot and the hand-back rule keep this conversation together by
  // themselves now. The gate is tested look by look in steal_gate_test.
  // Asserted only in optimised builds (timing_asserted).
  constexpr std::uint64_t clients = client::clients;
  const std::uint64_t requests = std::max<std::size_t>(200, scaled(20'000));
  moves m;
  volley::system sys(volley::test::two_workers());
  auto h = sys.spawn<hub>(m);
  std::vector<volley::actor_ref<client>> cs;
  for (std::uint64_t i = 0; i < clients; ++i) cs.push_back(sys.spawn<client>(h, requests, m));
  for (auto& c : cs) c.tell(answer{});  // each client's first turn sends its first request
  REQUIRE(m.wait_done(clients));
  const std::uint64_t preemptions = m.worker_preemptions();  // before shutdown ends the threads
  sys.shutdown();
  const std::uint64_t explained = m.activations.load() / 200 + 2 * (clients + 1) * preemptions;
  INFO(m.changed_thread.load() << " of " << m.activations.load()
                               << " handled messages ran on another thread than the previous one; "
                               << preemptions << " preemptions of the workers");
  CHECK(m.activations.load() == clients * (2 * requests + 1));
  if (timing_asserted) CHECK(m.changed_thread.load() <= explained);
}

TEST_CASE("a worker the steal gate keeps from a busy worker's deque naps instead of spinning",
          "[dispatch][concurrency]") {
  // 48 actors pass 8 balls (Savina's big): one worker runs it all, and its
  // deque is rarely empty, but the steal gate keeps the other worker from
  // it (it drains in µs). That worker parked, saw the deque not empty, and
  // came straight back to spin on the busy worker's deque lines, until a
  // park happened to find the deque empty (scheduler.hpp, "The parking
  // look"). Now it naps. So the two workers together may use at most 1.5
  // times the CPU one worker used for the same run (schedstat, per thread).
  // Measured here (Release stats build, 2-core VM at load 3-8): ratio
  // 1.02-1.05 in 7 runs; with the old look (VOLLEY_PARK_LOOK=0) 1.53 and
  // 1.74 in 2 of 7 runs, ~1.0 in the others (with 24 balls: 1.02-1.10
  // against 1.66 and 1.70 in 2 of 5). It catches the spin one run in three,
  // not every run: the old look spun only until one of its looks found the
  // busy deque empty, and then napped like the new one. The deterministic
  // check is tests/checker/parking_look_checker_test ("beside a busy
  // worker"): the explorer is deterministic, and the old look there parks
  // more than twice in its 744th schedule, in every run. This case guards
  // the figure. Asserted only in optimised builds (timing_asserted).
  constexpr std::uint32_t balls = 8;
  const auto hops = static_cast<std::uint32_t>(std::max<std::size_t>(100, scaled(250'000)));
  const long long one = pass_balls(1, balls, hops);
  const long long two = pass_balls(2, balls, hops);
  INFO("worker CPU: " << one / 1000 << " µs on 1 worker, " << two / 1000 << " µs on 2");
  if (timing_asserted) CHECK(two <= one * 3 / 2);
}

TEST_CASE("actors with work of their own queued on one worker are shared with an idle one",
          "[dispatch][concurrency]") {
  // Eight actors that always have work left start on one worker (woken
  // from one handler) while the other sleeps. Their worker rotates through
  // its deque, so its oldest cell changes every few activations and never
  // looks waited-for; the thief must see that they are surplus (activations
  // that end requeued: steal_gate.hpp's backlog rule) and take half.
  // Measured here (Release, 2-core VM at load ~20, 3 runs): 48% of the
  // messages ran on the second worker. At that load the rule is not what
  // decides it: with it switched off the figure was the same, because the
  // busy worker is preempted for longer than a nap and its top then does
  // wait. The rule itself is tested look by look in steal_gate_test ("a
  // backlogged victim is stolen from at once"); this case guards that the
  // surplus is shared at all. Asserted only in optimised builds.
  constexpr std::size_t grinders = 8;
  const std::uint64_t messages = std::max<std::size_t>(200, scaled(20'000));
  grind_threads t;
  run_on_two_workers(
      [&](volley::system& sys) {
        start_grinders start{{}, messages};
        for (std::size_t i = 0; i < grinders; ++i) start.grinders.push_back(sys.spawn<grinder>(t));
        std::this_thread::sleep_for(20ms);  // let the workers park (not a timing assertion)
        sys.spawn<grind_starter>(t).tell(start);
      },
      [&] { return t.grinders_done.load() == grinders; });
  const std::uint64_t total = grinders * messages;
  CHECK(t.on_starter.load() + t.elsewhere.load() == total);
  INFO(t.elsewhere.load() << " of " << total << " messages ran on the second worker");
  if (timing_asserted)
    CHECK(static_cast<double>(t.elsewhere.load()) / static_cast<double>(total) > 0.2);
}

TEST_CASE("an actor woken on another worker goes back to the busy worker it last ran on",
          "[dispatch][concurrency]") {
  // The hand-back rule (scheduler.hpp, "Keeping a conversation on one
  // worker"). The recorder last ran on worker 0; worker 1 wakes it while
  // worker 0 is inside a handler. A woken actor used to run on its waker's
  // worker (1), and that is how a conversation spread over both workers
  // stayed spread: each worker kept waking the other's actors onto itself.
  // Now it is handed back to worker 0's LIFO slot and runs there next.
  // Counted: rounds where it ran on worker 0. Measured here
  // (Release, 2-core VM at load 6-10): without the rule 0 of 40 in each of
  // 3 runs (0 of 20 in 6 more), with it 20-32 of 40 in 4 runs. The rounds
  // lost with the rule are worker 0 descheduled inside its handler (the
  // load): worker 1 then finds the handed-back actor stale in worker 0's
  // slot and rightly takes it. (A teller that stays in its handler until
  // the other leaves won every round with the rule, but lost only half
  // without it: worker 0 then took the stale occupant from worker 1.) So
  // a round lost says little alone: a fresh-clone CI run beside five
  // builds (load ~10) ran only 2 of 40 rounds on worker 0, and 10-28 of 40
  // in four runs at the same load. Without the rule no round has ever run
  // there: 0 of 400 in each of 3 runs at load ~10 (VOLLEY_HAND_BACK=0 in
  // the stats build). So rounds are played until 5 have run on worker 0,
  // at most 400, and fewer than 5 fails. Asserted only in optimised builds.
  constexpr int wanted = 5;
  constexpr int most_rounds = 400;
  recorder::seen seen;
  volley::system sys(volley::test::two_workers());
  auto target = sys.spawn<recorder>(seen);
  int back_on_0 = 0;
  int played = 0;
  int placements = 0;
  for (; played < most_rounds && back_on_0 < wanted; ++played) {
    // Place the recorder on worker 0 (worker 0 probes it: it runs there).
    while (seen.worker.load() != 0 && placements < 10 * most_rounds) {
      ++placements;
      REQUIRE(play_round(sys, 0, target, seen));
    }
    REQUIRE(seen.worker.load() == 0);
    REQUIRE(play_round(sys, 1, target, seen));  // worker 1 wakes it while 0 is busy
    if (seen.worker.load() == 0) ++back_on_0;
  }
  sys.shutdown();
  INFO(back_on_0 << " of " << played << " rounds ran the woken actor on worker 0; " << placements
                 << " placements");
  if (timing_asserted) CHECK(back_on_0 >= wanted);
}

namespace {

struct blocked_spawn_outcome {
  bool finished = false;     ///< the spawner got through while every worker was held
  std::uint64_t yields = 0;  ///< its run-ahead yields (scheduler.cpp)
  std::string pinning_note;  ///< why the pool runs unpinned ("" when pinned)
};

// Every worker (pinned, one per PU, so that the spawner runs on a worker's
// PU, where the pacing acts) sits in a handler while another thread spawns
// and tells `spawns` actors; then the workers are let go and every message
// must be handled. Enough spawns to pass the pacing's bound many times over.
blocked_spawn_outcome spawn_past_blocked_workers(bool paced) {
  constexpr std::uint64_t spawns = 30000;
  const unsigned workers = std::max(1u, std::thread::hardware_concurrency());
  std::atomic<std::uint64_t> total{0};
  std::list<gate> gates;  // outlive the system: a holder may still be leaving wait()
  volley::config cfg = with_workers(workers);
  cfg.pin = true;
  volley::system sys(cfg);
  struct open_all {  // if a REQUIRE fails: before the system's shutdown, which waits for them
    std::list<gate>& gates;
    ~open_all() {
      for (gate& g : gates) g.open();
    }
  } release{gates};
  for (unsigned i = 0; i < workers; ++i) {
    gate& g = gates.emplace_back();
    sys.spawn<holder>(g).tell(report{});
    REQUIRE(g.wait_arrived());
  }
  blocked_spawn_outcome out;
  out.pinning_note = sys.pinning_note();
  const std::uint64_t yields_before = volley::detail::worker_pool::outside_spawner_yields();
  std::promise<void> spawned;
  std::thread spawner([&] {
    volley::pace_this_thread(paced);
    for (std::uint64_t i = 0; i < spawns; ++i) sys.spawn<counter>(total).tell(numbered{0, 0});
    spawned.set_value();
  });
  out.finished = spawned.get_future().wait_for(60s) == std::future_status::ready;
  for (gate& g : gates) g.open();
  spawner.join();
  out.yields = volley::detail::worker_pool::outside_spawner_yields() - yields_before;
  REQUIRE(out.finished);
  CHECK(wait_until([&] { return total.load() == spawns; }, 60s));
  CHECK(total.load() == spawns);
  return out;
}

}  // namespace

TEST_CASE("a thread outside the workers keeps spawning while every worker is blocked",
          "[dispatch][concurrency]") {
  // Run-ahead pacing (scheduler.cpp) may slow a spawner that is far ahead of
  // the workers, but never make it wait for them: a spawner that waited for
  // the backlog to shrink would never finish here. It does yield: the
  // backlog only grows, and it runs on a worker's PU.
  const auto o = spawn_past_blocked_workers(/*paced=*/true);
  CHECK(o.finished);
  if (o.pinning_note.empty()) {
    CHECK(o.yields > 0);
  } else if (std::getenv("CI") != nullptr) {
    FAIL("the pool could not pin its workers, so the pacing was not tried: " << o.pinning_note);
  } else {
    WARN("the pool could not pin its workers; the yield was not checked: " << o.pinning_note);
  }
}

TEST_CASE("a thread that does not pace itself spawns far ahead without yielding",
          "[dispatch][concurrency]") {
  const auto o = spawn_past_blocked_workers(/*paced=*/false);
  CHECK(o.finished);
  CHECK(o.yields == 0);
}
