// Cigarette smokers: twin of bench/savina/cigarette_smokers.cpp. An
// arbiter runs `rounds` rounds: each draws a smoker and a smoking time
// (splitmix64 seeded rounds x smokers: below(smokers), below(1000) + 10)
// and tells that smoker to start; the smoker tells the arbiter it has
// started, which begins the next round, then smokes (busy_wait(time)).
//
// Checks as on volley: the arbiter accepts only the "started" of the round
// in progress from the smoker it chose; the smokers smoked `rounds` times.
#include "caf_runtime.hpp"
#include "workloads.hpp"

#include <volley/savina/fault_injection.hpp>
#include <volley/savina/pseudo_random.hpp>
#include <volley/savina/reference_answers.hpp>

#include <atomic>
#include <memory>

namespace volley::caf_peer {

namespace {

using smoke_atom = caf::atom_constant<caf::atom("smoke")>;
using started_atom = caf::atom_constant<caf::atom("started")>;

// Savina's smoking time: below(1000) + 10 busy-wait steps.
constexpr std::uint64_t smoking_time_range = 1000;

struct smoking_counts {
  std::atomic<std::int64_t> smoked{0};
  std::atomic<std::int64_t> work{0};  // busy-wait results: used, so the loops stay
};
using counts_ptr = std::shared_ptr<smoking_counts>;

struct arbiter_state {
  std::vector<caf::actor> smokers;
  savina::pseudo_random random{0};
  std::int64_t round = 0;
  std::int64_t chosen = -1;
};

caf::behavior arbiter(caf::stateful_actor<arbiter_state>* self, std::int64_t rounds,
                      std::int64_t smoker_count, caf::actor main) {
  self->state.random = savina::pseudo_random(static_cast<std::uint64_t>(rounds) *
                                             static_cast<std::uint64_t>(smoker_count));
  auto next_round = [=] {
    auto& s = self->state;
    ++s.round;
    s.chosen = static_cast<std::int64_t>(s.random.below(s.smokers.size()));
    const auto time = static_cast<std::int64_t>(s.random.below(smoking_time_range)) + 10;
    // The first round's call is the message a fault is injected into.
    for (int copy = s.round == 1 ? savina::copies_of_marked_message() : 1; copy > 0; --copy)
      self->send(s.smokers[static_cast<std::size_t>(s.chosen)], smoke_atom::value, s.round, time);
  };
  return {
      [=](init_atom, actor_list smokers) { self->state.smokers = *smokers; },
      [=](start_atom) { next_round(); },
      [=](started_atom, std::int64_t round, std::int64_t smoker) {
        auto& s = self->state;
        if (round != s.round || smoker != s.chosen)
          savina::wrong_answer("smoker " + std::to_string(smoker) + " started round " +
                               std::to_string(round) + "; round " + std::to_string(s.round) +
                               " was smoker " + std::to_string(s.chosen) + "'s");
        if (s.round == rounds)
          self->send(main, done_atom::value);
        else
          next_round();
      },
  };
}

caf::behavior smoker(caf::event_based_actor* self, caf::actor the_arbiter, std::int64_t id,
                     counts_ptr counts) {
  return {[=](smoke_atom, std::int64_t round, std::int64_t time) {
    // Counted before "started": the arbiter's last round sees every smoke.
    counts->smoked.fetch_add(1, std::memory_order_relaxed);
    self->send(the_arbiter, started_atom::value, round, id);
    counts->work.fetch_add(savina::busy_wait(time), std::memory_order_relaxed);
  }};
}

}  // namespace

measurement cigarette_smokers(const parameters& p, int workers) {
  const auto rounds = p.integer("rounds");
  const auto smoker_count = p.integer("smokers");
  caf_runtime rt(workers);
  caf::scoped_actor self{rt.system()};
  auto counts = std::make_shared<smoking_counts>();
  auto a = rt.system().spawn(arbiter, rounds, smoker_count, caf::actor{self});
  auto smokers = std::make_shared<std::vector<caf::actor>>();
  for (std::int64_t i = 0; i < smoker_count; ++i)
    smokers->push_back(rt.system().spawn(smoker, a, i, counts));
  self->send(a, init_atom::value, actor_list(smokers));
  savina::stopwatch clock;
  self->send(a, start_atom::value);
  self->receive([](done_atom) {});
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  auto all = *smokers;
  all.push_back(a);
  stop_all(all);
  savina::check(counts->smoked.load() == rounds,
                "the smokers smoked " + std::to_string(counts->smoked.load()) + " times in " +
                    std::to_string(rounds) + " rounds");
  m.messages = m.items = static_cast<std::uint64_t>(2 * rounds);
  return m;
}

}  // namespace volley::caf_peer
