// Dining philosophers on volley: twin of bench/peers/caf/dining_philosophers.cpp.
// `philosophers` philosophers each eat `rounds` times. A hungry philosopher
// asks the arbitrator for both forks; it gets them only if both are free,
// else it is denied and asks again. The arbitrator checks that a released
// fork was held, so a double grant is caught. Each philosopher numbers its
// hungry requests 0, 1, 2, ...; the arbitrator expects the next number from
// each and echoes it in the answer, so a duplicated or misrouted request or
// answer is caught where it arrives, and a lost one leaves a philosopher
// waiting forever (the deadline reports it).
#include "volley_workloads.hpp"

#include <volley/savina/fault_injection.hpp>

#include <future>

namespace volley::savina_on_volley {

namespace {

struct arbitrator_result {
  std::int64_t meals;
  std::int64_t received;
  std::int64_t errors;
};

struct philosopher;

struct arbitrator {
  struct hungry {
    std::int64_t id;
    std::int64_t seq;
    actor_ref<philosopher> reply_to;
  };
  struct release {
    std::int64_t id;
  };
  struct leave {};

  std::int64_t philosophers;
  std::promise<arbitrator_result>* done;
  std::vector<bool> fork_taken;
  std::vector<std::int64_t> next_seq;  // per philosopher
  std::int64_t left = 0, meals = 0, received = 0, errors = 0;

  arbitrator(std::int64_t n, std::promise<arbitrator_result>* d)
      : philosophers(n),
        done(d),
        fork_taken(static_cast<std::size_t>(n), false),
        next_seq(static_cast<std::size_t>(n), 0) {}

  std::pair<std::size_t, std::size_t> forks(std::int64_t id) const {
    return {static_cast<std::size_t>(id), static_cast<std::size_t>((id + 1) % philosophers)};
  }
  void on(const hungry& h);
  void on(const release& r) {
    ++received;
    auto [l, rt] = forks(r.id);
    if (!fork_taken[l] || !fork_taken[rt]) ++errors;
    fork_taken[l] = fork_taken[rt] = false;
  }
  void on(const leave&, context& ctx) {
    ++received;
    if (++left == philosophers) {
      done->set_value({meals, received, errors});
      ctx.stop();
    }
  }
};

struct philosopher : volley::actor<philosopher> {
  struct start {};
  struct answer {
    bool granted;
    std::int64_t seq;
  };
  std::int64_t id;
  std::int64_t rounds;
  actor_ref<arbitrator> arb;
  std::int64_t eaten = 0;
  std::int64_t asked = 0;  // hungry requests sent

  philosopher(std::int64_t i, std::int64_t r, actor_ref<arbitrator> a)
      : id(i), rounds(r), arb(std::move(a)) {}

  void ask_for_forks() { arb.tell(arbitrator::hungry{id, asked++, self()}); }
  void on(const start&) {
    const auto seq = asked++;
    for (int copy = savina::copies_of_marked_message(); copy > 0; --copy)
      arb.tell(arbitrator::hungry{id, seq, self()});
  }
  void on(const answer& a, context& ctx) {
    if (a.seq != asked - 1)
      savina::wrong_answer("philosopher " + std::to_string(id) + " got the answer to request " +
                           std::to_string(a.seq) + ", expected " + std::to_string(asked - 1));
    if (!a.granted) {
      ask_for_forks();
      return;
    }
    arb.tell(arbitrator::release{id});
    if (++eaten < rounds) {
      ask_for_forks();
    } else {
      arb.tell(arbitrator::leave{});
      ctx.stop();
    }
  }
};

void arbitrator::on(const hungry& h) {
  ++received;
  auto& expected = next_seq[static_cast<std::size_t>(h.id)];
  if (h.seq != expected)
    savina::wrong_answer("arbitrator got request " + std::to_string(h.seq) + " of philosopher " +
                         std::to_string(h.id) + ", expected " + std::to_string(expected));
  ++expected;
  auto [l, r] = forks(h.id);
  if (fork_taken[l] || fork_taken[r]) {
    h.reply_to.tell(philosopher::answer{false, h.seq});
    return;
  }
  fork_taken[l] = fork_taken[r] = true;
  ++meals;
  h.reply_to.tell(philosopher::answer{true, h.seq});
}

}  // namespace

measurement dining_philosophers(const parameters& p, int workers) {
  const auto n = p.integer("philosophers");
  const auto rounds = p.integer("rounds");
  volley::system sys(make_config(workers));
  std::promise<arbitrator_result> done;
  auto arb = sys.spawn<arbitrator>(n, &done);
  std::vector<actor_ref<philosopher>> all;
  for (std::int64_t i = 0; i < n; ++i) all.push_back(sys.spawn<philosopher>(i, rounds, arb));
  savina::stopwatch clock;
  for (const auto& ph : all) ph.tell(philosopher::start{});
  auto result = done.get_future().get();
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  sys.shutdown();
  savina::check(result.errors == 0,
                std::to_string(result.errors) + " forks were released that were not held");
  savina::check(result.meals == n * rounds, "philosophers ate " + std::to_string(result.meals) +
                                                " meals, expected " + std::to_string(n * rounds));
  // Every hungry request got a reply: hungry requests = received - releases - leaves.
  auto hungry = result.received - result.meals - n;
  m.messages = m.items = static_cast<std::uint64_t>(result.received + hungry);
  return m;
}

}  // namespace volley::savina_on_volley
