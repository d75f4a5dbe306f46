// Logistic map on volley: twin of bench/peers/caf/logistic_map.cpp.
// `series` series actors each compute `terms` terms of x <- r x (1 - x).
// For every term the main thread tells each series to advance; the series
// asks its own rate-computer actor for the next term and waits for the
// answer before it handles anything else (Savina's blocking ask). The last
// terms must match a plain loop, and each series counts the terms it
// computed, so a lost or duplicated `next` fails the run even where the
// series has settled into a cycle.
//
// The wait is a coroutine handler: while `co_await ctx.ask(...)` waits, the
// series' later `next` and `result` messages stay in its mailbox, in order,
// and no worker thread is held. (CAF needs a count of queued `next`
// messages for the same order of work; see the twin.)
#include "volley_workloads.hpp"

#include <volley/savina/fault_injection.hpp>
#include <volley/savina/reference_answers.hpp>

#include <cmath>

namespace volley::savina_on_volley {

namespace {

// Savina's ask has no deadline (the CAF twin asks with caf::infinite):
// none here either, so no timer is armed per term. A lost reply stalls the
// run, which the runner's --deadline turns into a failure.
constexpr auto compute_timeout = volley::no_deadline;

struct rate_computer {
  struct compute {
    double x;
  };
  double rate;
  explicit rate_computer(double r) : rate(r) {}
  double on(const compute& c) const { return rate * c.x * (1 - c.x); }
};

struct series_actor {
  struct next {};
  struct last_term {
    double term;
    bool complete;  // false: a compute request failed on the way
    std::int64_t steps;
  };
  struct get_result {};

  actor_ref<rate_computer> computer;
  double term;
  bool complete = true;
  std::int64_t steps = 0;  // terms computed

  series_actor(actor_ref<rate_computer> c, double start) : computer(std::move(c)), term(start) {}

  volley::task on(next, context& ctx) {
    auto r = co_await ctx.ask(computer, rate_computer::compute{term}, compute_timeout);
    ++steps;
    if (r)
      term = r.value();
    else
      complete = false;
  }
  // Queued behind every `next`, so it answers after the last term.
  last_term on(const get_result&) const { return {term, complete, steps}; }
};

}  // namespace

measurement logistic_map(const parameters& p, int workers) {
  const auto terms = p.integer("terms");
  const auto series = p.integer("series");
  const auto start_rate = p.real("start_rate");
  const auto increment = p.real("increment");
  volley::system sys(make_config(workers));
  std::vector<actor_ref<series_actor>> all;
  for (std::int64_t i = 0; i < series; ++i) {
    auto computer = sys.spawn<rate_computer>(savina::logistic_map_rate(start_rate, increment, i));
    all.push_back(sys.spawn<series_actor>(computer, savina::logistic_map_start(i, series)));
  }
  std::vector<volley::future<series_actor::last_term>> answers;
  savina::stopwatch clock;
  for (std::int64_t t = 0; t < terms; ++t)
    for (const auto& s : all)
      for (int copy = t == 0 ? savina::copies_of_marked_message() : 1; copy > 0; --copy)
        s.tell(series_actor::next{});
  for (const auto& s : all) answers.push_back(s.ask(series_actor::get_result{}));
  std::vector<result<series_actor::last_term>> last;
  for (auto& a : answers) last.push_back(a.get());
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  sys.shutdown();
  for (std::int64_t i = 0; i < series; ++i) {
    auto& r = last[static_cast<std::size_t>(i)];
    savina::check(r.ok(), "series " + std::to_string(i) +
                              " gave no result: " + (r.ok() ? "" : r.err().message));
    const auto got = r.value();
    savina::check(got.complete, "series " + std::to_string(i) + " lost a compute reply");
    savina::check(got.steps == terms, "series " + std::to_string(i) + " computed " +
                                          std::to_string(got.steps) + " terms, expected " +
                                          std::to_string(terms));
    double expected =
        savina::logistic_map_last_term(savina::logistic_map_start(i, series),
                                       savina::logistic_map_rate(start_rate, increment, i), terms);
    savina::check(std::fabs(got.term - expected) <= 1e-9,
                  "series " + std::to_string(i) + " ended at " + std::to_string(got.term) +
                      ", expected " + std::to_string(expected));
  }
  m.messages = m.items = static_cast<std::uint64_t>(3 * terms * series + 2 * series);
  return m;
}

}  // namespace volley::savina_on_volley
