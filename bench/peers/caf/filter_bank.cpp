// Filter bank: twin of bench/savina/filter_bank.cpp. A source streams
// `columns` samples to a branch actor, which hands each to the C channels; a
// channel is a pipeline of two FIR filter actors (analysis H_c, then
// synthesis F_c); a combiner adds the C outputs of each sample in channel
// order and passes the sum to the sink. The arithmetic is filter_bank.hpp's,
// shared with volley.
//
// Every message carries its sample's index and every stage expects the next
// one (the combiner per channel), so a sample lost, duplicated or misrouted
// fails at the first actor that sees it; the sink's sum must equal a
// sequential run of the same filters.
#include "caf_runtime.hpp"
#include "workloads.hpp"

#include <volley/savina/fault_injection.hpp>
#include <volley/savina/filter_bank.hpp>

#include <cmath>
#include <deque>

namespace volley::caf_peer {

namespace {

using sample_atom = caf::atom_constant<caf::atom("sample")>;
using output_atom = caf::atom_constant<caf::atom("output")>;

void expect_index(std::int64_t& expected, std::int64_t got, const char* who) {
  if (got != expected)
    savina::wrong_answer(std::string(who) + " got sample " + std::to_string(got) + ", expected " +
                         std::to_string(expected));
  ++expected;
}

struct sink_state {
  std::int64_t expected = 0;
  double sum = 0;
};

caf::behavior sink(caf::stateful_actor<sink_state>* self, std::int64_t columns, caf::actor main) {
  return {[=](sample_atom, std::int64_t index, double value) {
    auto& s = self->state;
    expect_index(s.expected, index, "the sink");
    s.sum += value;
    if (s.expected == columns) self->send(main, done_atom::value, s.expected, s.sum);
  }};
}

struct combiner_state {
  std::vector<std::deque<double>> queues;
  std::vector<std::int64_t> expected;
  std::size_t filled = 0;  // queues holding at least one value
  std::int64_t index = 0;
};

// Channel outputs arrive in order per channel, so sample i is complete once
// every channel's queue holds a value.
caf::behavior combiner(caf::stateful_actor<combiner_state>* self, caf::actor next,
                       std::int64_t channels) {
  self->state.queues.resize(static_cast<std::size_t>(channels));
  self->state.expected.assign(static_cast<std::size_t>(channels), 0);
  return {[=](output_atom, std::int64_t channel, std::int64_t index, double value) {
    auto& s = self->state;
    const auto c = static_cast<std::size_t>(channel);
    expect_index(s.expected[c], index, "the combiner");
    if (s.queues[c].empty()) ++s.filled;
    s.queues[c].push_back(value);
    while (s.filled == s.queues.size()) {
      double sum = 0;
      for (auto& q : s.queues) {
        sum += q.front();
        q.pop_front();
        if (q.empty()) --s.filled;
      }
      self->send(next, sample_atom::value, s.index++, sum);
    }
  }};
}

struct fir_state {
  std::unique_ptr<savina::fir_filter> filter;
  std::int64_t expected = 0;
};

// `next` is the synthesis filter; the synthesis filter's is the combiner
// (`to_combiner`), which also wants the channel.
caf::behavior fir_stage(caf::stateful_actor<fir_state>* self, std::vector<double> coefficients,
                        std::int64_t channel, caf::actor next, bool to_combiner) {
  self->state.filter = std::make_unique<savina::fir_filter>(std::move(coefficients));
  return {[=](sample_atom, std::int64_t index, double value) {
    auto& s = self->state;
    expect_index(s.expected, index, "a FIR filter");
    double out = s.filter->step(value);
    if (to_combiner)
      self->send(next, output_atom::value, channel, index, out);
    else
      self->send(next, sample_atom::value, index, out);
  }};
}

caf::behavior branch(caf::event_based_actor* self, std::vector<caf::actor> channels) {
  return {[=](sample_atom, std::int64_t index, double value) {
    for (int copy = savina::copies_of_marked_message(); copy > 0; --copy)
      self->send(channels[0], sample_atom::value, index, value);
    for (std::size_t c = 1; c < channels.size(); ++c)
      self->send(channels[c], sample_atom::value, index, value);
  }};
}

caf::behavior source(caf::event_based_actor* self, std::int64_t columns, caf::actor next) {
  return {[=](start_atom) {
    for (std::int64_t i = 0; i < columns; ++i)
      self->send(next, sample_atom::value, i, savina::filter_bank_source(i));
  }};
}

}  // namespace

measurement filter_bank(const parameters& p, int workers) {
  const auto columns = p.integer("columns");
  const auto channels = p.integer("channels");
  const auto taps = p.integer("taps");
  caf_runtime rt(workers);
  caf::scoped_actor self{rt.system()};
  auto& sys = rt.system();
  std::vector<caf::actor> all;
  all.push_back(sys.spawn(sink, columns, caf::actor{self}));
  auto combine = sys.spawn(combiner, all.back(), channels);
  all.push_back(combine);
  std::vector<caf::actor> analysis;
  for (std::int64_t c = 0; c < channels; ++c) {
    auto synthesis =
        sys.spawn(fir_stage, savina::filter_bank_coefficients(c, taps, true), c, combine, true);
    analysis.push_back(sys.spawn(fir_stage, savina::filter_bank_coefficients(c, taps, false), c,
                                 synthesis, false));
    all.push_back(synthesis);
    all.push_back(analysis.back());
  }
  all.push_back(sys.spawn(branch, analysis));
  auto the_source = sys.spawn(source, columns, all.back());
  all.push_back(the_source);
  std::int64_t samples = 0;
  double sum = 0;
  savina::stopwatch clock;
  self->send(the_source, start_atom::value);
  self->receive([&](done_atom, std::int64_t n, double s) {
    samples = n;
    sum = s;
  });
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  stop_all(all);
  const double expected = savina::filter_bank_reference_sum(columns, channels, taps);
  savina::check(samples == columns, std::to_string(samples) + " samples reached the sink");
  savina::check(
      std::fabs(sum - expected) <= 1e-9 * std::fabs(expected) + 1e-9,
      "the sink's sum is " + std::to_string(sum) + ", expected " + std::to_string(expected));
  // Per sample: source to branch, branch to C filters, C filter to filter,
  // C filter to combiner, combiner to sink.
  m.messages = m.items = static_cast<std::uint64_t>(columns * (3 * channels + 2));
  return m;
}

}  // namespace volley::caf_peer
