// Cigarette smokers on volley: twin of bench/peers/caf/cigarette_smokers.cpp.
// An arbiter puts ingredients on the table `rounds` times: each round it
// draws a smoker and a smoking time (splitmix64 seeded rounds x smokers:
// below(smokers), then below(1000) + 10) and tells that smoker to start.
// The smoker tells the arbiter it has taken the ingredients, which starts
// the next round, and then smokes: busy_wait(time) steps.
//
// Checks: every "started" names its round and its smoker, and the arbiter
// accepts only the one for the round in progress from the smoker it chose,
// so a lost, duplicated or misrouted message shows (a lost one leaves the
// run waiting); the smokers smoked exactly `rounds` times in all.
#include "volley_workloads.hpp"

#include <volley/savina/fault_injection.hpp>
#include <volley/savina/pseudo_random.hpp>
#include <volley/savina/reference_answers.hpp>

#include <atomic>
#include <future>

namespace volley::savina_on_volley {

namespace {

// Savina's smoking time: below(1000) + 10 busy-wait steps.
constexpr std::uint64_t smoking_time_range = 1000;

struct smoker;

struct smoking_counts {
  std::atomic<std::int64_t> smoked{0};
  std::atomic<std::int64_t> work{0};  // busy-wait results: used, so the loops stay
  std::promise<void> finished;
};

struct arbiter : volley::actor<arbiter> {
  struct start {};
  struct started {
    std::int64_t round;
    std::int64_t smoker;
  };
  std::vector<actor_ref<smoker>> smokers;
  std::int64_t rounds;
  smoking_counts* counts;
  savina::pseudo_random random;
  std::int64_t round = 0;
  std::int64_t chosen = -1;

  arbiter(std::int64_t r, std::int64_t smoker_count, smoking_counts* c)
      : rounds(r),
        counts(c),
        random(static_cast<std::uint64_t>(r) * static_cast<std::uint64_t>(smoker_count)) {}

  void on(const std::vector<actor_ref<smoker>>& s) { smokers = s; }
  void on(const start&) { next_round(); }
  void on(const started& s) {
    if (s.round != round || s.smoker != chosen)
      savina::wrong_answer("smoker " + std::to_string(s.smoker) + " started round " +
                           std::to_string(s.round) + "; round " + std::to_string(round) +
                           " was smoker " + std::to_string(chosen) + "'s");
    if (round == rounds)
      counts->finished.set_value();
    else
      next_round();
  }
  void next_round();
};

struct smoker : volley::actor<smoker> {
  struct start_smoking {
    std::int64_t round;
    std::int64_t time;
  };
  actor_ref<arbiter> the_arbiter;
  std::int64_t id;
  smoking_counts* counts;

  smoker(actor_ref<arbiter> a, std::int64_t i, smoking_counts* c)
      : the_arbiter(std::move(a)), id(i), counts(c) {}

  void on(const start_smoking& s) {
    // Counted before "started": the arbiter's last round sees every smoke.
    counts->smoked.fetch_add(1, std::memory_order_relaxed);
    the_arbiter.tell(arbiter::started{s.round, id});
    counts->work.fetch_add(savina::busy_wait(s.time), std::memory_order_relaxed);
  }
};

void arbiter::next_round() {
  ++round;
  chosen = static_cast<std::int64_t>(random.below(smokers.size()));
  const auto time = static_cast<std::int64_t>(random.below(smoking_time_range)) + 10;
  // The first round's call is the message a fault is injected into.
  for (int copy = round == 1 ? savina::copies_of_marked_message() : 1; copy > 0; --copy)
    smokers[static_cast<std::size_t>(chosen)].tell(smoker::start_smoking{round, time});
}

}  // namespace

measurement cigarette_smokers(const parameters& p, int workers) {
  const auto rounds = p.integer("rounds");
  const auto smoker_count = p.integer("smokers");
  volley::system sys(make_config(workers));
  smoking_counts counts;
  auto finished = counts.finished.get_future();
  auto a = sys.spawn<arbiter>(rounds, smoker_count, &counts);
  std::vector<actor_ref<smoker>> smokers;
  for (std::int64_t i = 0; i < smoker_count; ++i)
    smokers.push_back(sys.spawn<smoker>(a, i, &counts));
  a.tell(smokers);
  savina::stopwatch clock;
  a.tell(arbiter::start{});
  finished.get();
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  sys.shutdown();
  savina::check(counts.smoked.load() == rounds,
                "the smokers smoked " + std::to_string(counts.smoked.load()) + " times in " +
                    std::to_string(rounds) + " rounds");
  m.messages = m.items = static_cast<std::uint64_t>(2 * rounds);
  return m;
}

}  // namespace volley::savina_on_volley
