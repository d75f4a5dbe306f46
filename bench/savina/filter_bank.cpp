// Filter bank on volley: twin of bench/peers/caf/filter_bank.cpp. A source
// streams `columns` samples to a branch actor, which hands each to the C
// channels; a channel is a pipeline of two FIR filter actors (analysis H_c,
// then synthesis F_c, `taps` coefficients each); a combiner adds the C
// outputs of each sample in channel order and passes the sum to the sink.
// The arithmetic is filter_bank.hpp's, shared with CAF and written the same
// way in Erlang.
//
// Every message carries its sample's index and every stage expects the next
// one (the combiner per channel), so a sample lost, duplicated or sent to
// the wrong channel's successor fails at the first actor that sees it; the
// sink's sum must equal a sequential run of the same filters.
#include "volley_workloads.hpp"

#include <volley/savina/fault_injection.hpp>
#include <volley/savina/filter_bank.hpp>

#include <cmath>
#include <deque>
#include <future>

namespace volley::savina_on_volley {

namespace {

struct sample {
  std::int64_t index;
  double value;
};

struct channel_output {
  std::int64_t channel;
  sample s;
};

struct sink_result {
  std::int64_t samples;
  double sum;
};

void expect_index(std::int64_t& expected, std::int64_t got, const char* who) {
  if (got != expected)
    savina::wrong_answer(std::string(who) + " got sample " + std::to_string(got) + ", expected " +
                         std::to_string(expected));
  ++expected;
}

struct sink {
  std::int64_t columns;
  std::promise<sink_result>* done;
  std::int64_t expected = 0;
  double sum = 0;
  sink(std::int64_t c, std::promise<sink_result>* d) : columns(c), done(d) {}
  void on(const sample& s) {
    expect_index(expected, s.index, "the sink");
    sum += s.value;
    if (expected == columns) done->set_value({expected, sum});
  }
};

// Channel outputs arrive in order per channel, so sample i is complete once
// every channel's queue holds a value.
struct combiner {
  actor_ref<sink> next;
  std::vector<std::deque<double>> queues;
  std::vector<std::int64_t> expected;
  std::size_t filled = 0;  // queues holding at least one value
  std::int64_t index = 0;
  combiner(actor_ref<sink> n, std::int64_t channels)
      : next(std::move(n)),
        queues(static_cast<std::size_t>(channels)),
        expected(static_cast<std::size_t>(channels), 0) {}
  void on(const channel_output& o) {
    const auto c = static_cast<std::size_t>(o.channel);
    expect_index(expected[c], o.s.index, "the combiner");
    if (queues[c].empty()) ++filled;
    queues[c].push_back(o.s.value);
    while (filled == queues.size()) {
      double sum = 0;
      for (auto& q : queues) {
        sum += q.front();
        q.pop_front();
        if (q.empty()) --filled;
      }
      next.tell(sample{index++, sum});
    }
  }
};

struct fir_stage {
  savina::fir_filter filter;
  std::int64_t channel;
  actor_ref<fir_stage> next_filter;  // the synthesis filter, or empty
  actor_ref<combiner> combine;       // the analysis filter's is empty
  std::int64_t expected = 0;
  fir_stage(std::vector<double> coefficients, std::int64_t c, actor_ref<fir_stage> n,
            actor_ref<combiner> m)
      : filter(std::move(coefficients)),
        channel(c),
        next_filter(std::move(n)),
        combine(std::move(m)) {}
  void on(const sample& s) {
    expect_index(expected, s.index, "a FIR filter");
    sample out{s.index, filter.step(s.value)};
    if (next_filter)
      next_filter.tell(out);
    else
      combine.tell(channel_output{channel, out});
  }
};

struct branch {
  std::vector<actor_ref<fir_stage>> channels;
  explicit branch(std::vector<actor_ref<fir_stage>> c) : channels(std::move(c)) {}
  void on(const sample& s) {
    for (int copy = savina::copies_of_marked_message(); copy > 0; --copy) channels[0].tell(s);
    for (std::size_t c = 1; c < channels.size(); ++c) channels[c].tell(s);
  }
};

struct source {
  struct start {};
  std::int64_t columns;
  actor_ref<branch> next;
  source(std::int64_t c, actor_ref<branch> n) : columns(c), next(std::move(n)) {}
  void on(const start&) {
    for (std::int64_t i = 0; i < columns; ++i) next.tell(sample{i, savina::filter_bank_source(i)});
  }
};

}  // namespace

measurement filter_bank(const parameters& p, int workers) {
  const auto columns = p.integer("columns");
  const auto channels = p.integer("channels");
  const auto taps = p.integer("taps");
  volley::system sys(make_config(workers));
  std::promise<sink_result> done;
  auto the_sink = sys.spawn<sink>(columns, &done);
  auto combine = sys.spawn<combiner>(the_sink, channels);
  std::vector<actor_ref<fir_stage>> analysis;
  for (std::int64_t c = 0; c < channels; ++c) {
    auto synthesis = sys.spawn<fir_stage>(savina::filter_bank_coefficients(c, taps, true), c,
                                          actor_ref<fir_stage>{}, combine);
    analysis.push_back(sys.spawn<fir_stage>(savina::filter_bank_coefficients(c, taps, false), c,
                                            synthesis, actor_ref<combiner>{}));
  }
  auto fan_out = sys.spawn<branch>(std::move(analysis));
  auto the_source = sys.spawn<source>(columns, fan_out);
  savina::stopwatch clock;
  the_source.tell(source::start{});
  auto result = done.get_future().get();
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  sys.shutdown();
  savina::check(sys.dead_letters().count() == 0,
                std::to_string(sys.dead_letters().count()) + " messages became dead letters");
  const double expected = savina::filter_bank_reference_sum(columns, channels, taps);
  savina::check(
      std::fabs(result.sum - expected) <= 1e-9 * std::fabs(expected) + 1e-9,
      "the sink's sum is " + std::to_string(result.sum) + ", expected " + std::to_string(expected));
  // Per sample: source to branch, branch to C filters, C filter to filter,
  // C filter to combiner, combiner to sink.
  m.messages = m.items = static_cast<std::uint64_t>(columns * (3 * channels + 2));
  return m;
}

}  // namespace volley::savina_on_volley
