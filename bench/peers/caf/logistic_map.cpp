// Logistic map: `series` series actors each compute `terms` terms of
// x <- r x (1 - x). For every term the master tells each series to advance,
// and the series asks its own rate-computer actor for the next term and
// waits for the answer before it handles anything else. The last terms must
// match a plain loop.
#include "caf_runtime.hpp"
#include "workloads.hpp"

#include <volley/savina/fault_injection.hpp>
#include <volley/savina/reference_answers.hpp>

#include <cmath>

namespace volley::caf_peer {

namespace {

using next_atom = caf::atom_constant<caf::atom("next")>;
using compute_atom = caf::atom_constant<caf::atom("compute")>;

caf::behavior rate_computer(caf::event_based_actor*, double rate) {
  return {[=](compute_atom, double x) { return rate * x * (1 - x); }};
}

struct series_state {
  double term = 0;
  std::int64_t steps = 0;        // terms computed
  bool in_flight = false;        // a compute request is out
  std::int64_t queued = 0;       // `next` messages that arrived meanwhile
  caf::response_promise result;  // a `result` asked before the terms were done
  bool result_pending = false;
};

using series_pointer = caf::stateful_actor<series_state>*;

// Terms are computed strictly one after another, as with Savina's blocking
// ask. CAF's own blocking form (request().await()) rescans the mailbox
// backlog for every answer, which makes this workload quadratic in
// `terms`; counting the queued `next` messages keeps the same order of
// work without that.
void request_next_term(series_pointer self, const caf::actor& computer, std::int64_t index) {
  self->state.in_flight = true;
  self->request(computer, caf::infinite, compute_atom::value, self->state.term)
      .then([=](double next) {
        auto& s = self->state;
        s.term = next;
        ++s.steps;
        s.in_flight = false;
        if (s.queued > 0) {
          --s.queued;
          request_next_term(self, computer, index);
        } else if (s.result_pending) {
          s.result_pending = false;
          s.result.deliver(result_atom::value, index, s.term, s.steps);
        }
      });
}

caf::behavior series_actor(series_pointer self, std::int64_t index, double start,
                           caf::actor computer) {
  self->state.term = start;
  return {
      [=](next_atom) {
        if (self->state.in_flight)
          ++self->state.queued;
        else
          request_next_term(self, computer, index);
      },
      [=](result_atom) {
        auto& s = self->state;
        if (!s.in_flight) {
          self->send(caf::actor_cast<caf::actor>(self->current_sender()), result_atom::value, index,
                     s.term, s.steps);
          return;
        }
        s.result = self->make_response_promise();
        s.result_pending = true;
      },
  };
}

}  // namespace

measurement logistic_map(const parameters& p, int workers) {
  const auto terms = p.integer("terms");
  const auto series = p.integer("series");
  const auto start_rate = p.real("start_rate");
  const auto increment = p.real("increment");
  caf_runtime rt(workers);
  caf::scoped_actor self{rt.system()};
  std::vector<caf::actor> computers, all;
  for (std::int64_t i = 0; i < series; ++i) {
    computers.push_back(
        rt.system().spawn(rate_computer, savina::logistic_map_rate(start_rate, increment, i)));
    all.push_back(rt.system().spawn(series_actor, i, savina::logistic_map_start(i, series),
                                    computers.back()));
  }
  std::vector<double> last(static_cast<std::size_t>(series), -1);
  std::vector<std::int64_t> steps(static_cast<std::size_t>(series), -1);
  savina::stopwatch clock;
  for (std::int64_t t = 0; t < terms; ++t)
    for (const auto& s : all)
      for (int copy = t == 0 ? savina::copies_of_marked_message() : 1; copy > 0; --copy)
        self->send(s, next_atom::value);
  for (const auto& s : all) self->send(s, result_atom::value);
  for (std::int64_t i = 0; i < series; ++i)
    self->receive([&](result_atom, std::int64_t index, double term, std::int64_t n) {
      last[static_cast<std::size_t>(index)] = term;
      steps[static_cast<std::size_t>(index)] = n;
    });
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  stop_all(all);
  stop_all(computers);
  for (std::int64_t i = 0; i < series; ++i) {
    savina::check(steps[static_cast<std::size_t>(i)] == terms,
                  "series " + std::to_string(i) + " computed " +
                      std::to_string(steps[static_cast<std::size_t>(i)]) + " terms, expected " +
                      std::to_string(terms));
    double expected =
        savina::logistic_map_last_term(savina::logistic_map_start(i, series),
                                       savina::logistic_map_rate(start_rate, increment, i), terms);
    savina::check(std::fabs(last[static_cast<std::size_t>(i)] - expected) <= 1e-9,
                  "series " + std::to_string(i) + " ended at " +
                      std::to_string(last[static_cast<std::size_t>(i)]) + ", expected " +
                      std::to_string(expected));
  }
  m.messages = m.items = static_cast<std::uint64_t>(3 * terms * series + 2 * series);
  return m;
}

}  // namespace volley::caf_peer
