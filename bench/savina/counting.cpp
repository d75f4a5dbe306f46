// Counting on volley: twin of bench/peers/caf/counting.cpp. The producer
// sends the increments, then asks for the total through a typed reply.
//
// Why two repetitions differ: the consumer's distance
// ---------------------------------------------------
// The run also reports how far the counter trails the producer (the
// "details" of its result line: the backlog, in increments, sampled every
// `backlog_sample_every` sends). On the 2-core Intel VM of
// results/intel-xeon-2c the throughput follows that distance, not the
// machine probe. 48 runs of this file (bench preset, 2 workers, the
// process's autogroup at nice -20 so that the other sessions' builds
// barely ran, 2026-11-29) went 33.2 - 46.4 M msg/s; by the backlog:
//
//   | backlog                         | runs | M msg/s | CPU-ns/msg | faults | max RSS |
//   |---------------------------------|-----:|--------:|-----------:|-------:|--------:|
//   | trails by 1k+, never 300k       |   21 |    42.2 |       44.7 |   3.8k |   19 MB |
//   | chases the head (median < 1k)   |   18 |    40.7 |       45.9 |   4.1k |   20 MB |
//   | falls 300k - 1.5M behind        |    9 |    36.9 |       52.9 |  10.7k |   45 MB |
//
// (medians). The two fastest runs (44.4, 46.4 M) trailed by ~21k all the
// way (max 33k, 38k). Chasing the head, the counter runs dry thousands of
// times a run (stats build: ~6,500 against ~300 in the fastest runs) and
// is picked up again from the producer's worker's LIFO slot as a stale
// occupant; in the far mode it ran dry only 16 - 105 times (it fell
// behind early, while its worker was parked, and never caught up). System
// time stays under 0.1 s in every mode, so the extra cost is cache misses
// on lines the other core wrote, not page faults. A scheduler prototype
// that handed the woken counter straight back to its searching worker made
// it worse (median 40.7 -> 38.0 M, 3.3k -> 11.3k times dry): the counter
// then stays at the head.
//
// On the 2-core AMD EPYC VM (results/amd-epyc-2c) chasing is the slow
// mode by far: its quick suite 2026-11-30T01-25-42Z ran 64.2, 44.1 and
// 66.8 M msg/s, all at a 60-78 ns cache-line probe; the 44.1 M run chased
// (backlog p10 21, p50 229; 45.3 CPU-ns/msg), the others trailed by 6k
// and 29k (30-31 CPU-ns/msg). So keeping the counter at the head costs
// here. Consumer-side changes tried against a69f13d (bench preset, 2
// workers, interleaved, runs that got two CPUs; median ratio to the base
// run of the same round; "fast": probe 52-70 ns, or 60-90 M runs at load
// 1.5-2.5 and nice -20 before the probe was recorded; "slow": probe
// ~320 ns; SCHED_FIFO at load 9-17 unless said), none kept:
//   * linger through the whole activation (128 pauses shared by every time
//     the mailbox runs dry, instead of 64 pauses once): fast 0.81, 0.80
//     (nice -20; medians 51.1 / 55.9 against 61.5 / 64.1 M, 7-8 pairs)
//     and 0.69 (12 pairs); slow 1.17, 0.89 and 1.04 (8, 10, 14 pairs);
//   * a shorter linger, or none (16 or 32 pauses, or 0): fast 1.09 then
//     1.02 (16; 12 and 16 pairs, spreads 1.5 then 2.6 against 2.0 and
//     1.7), 0.98 (32), 1.00 (0; median 44.6 against 51.4 M);
//   * a counter whose last activation spent its budget, on finding the
//     mailbox empty, waits 20 or 60 µs without looking at it (a backlog
//     to trail): fast (nice -20) 1.02 / 0.63 (20 µs; spreads 8.6 and 3.6)
//     and 0.61 (60 µs); it drained each backlog and ran dry again;
//   * a prefetch of the next envelope at each pop: fast (nice -20) 1.07
//     and 1.05, but spreads 3.9 and 2.5 against 2.4 and 1.4; slow 0.73;
//   * the envelope pool's write prefetch 16 blocks ahead instead of 1:
//     slow 0.96, 1.28, 1.00, 0.97, 1.00 (6-14 pairs); a depot that keeps
//     128 or 512 magazines before it hands one out (a longer recycling
//     ring): slow 1.00 and 1.01 (10 pairs).
// Within one probe mode every arm's spread stayed 1.3-3.3 (up to 8.6):
// the mode a run falls into (chase, trail, far) still decides its figure.
//
// The sample is one relaxed load of the counter's count per 16,384 sends
// (the inner loop is the loop the workload always had), and the counter's
// count is stored with a relaxed store (a plain store on x86). Against
// d5f5ce0, 16 interleaved pairs in the same setting: 40.89 -> 41.27 M msg/s
// by median, 46.8 -> 45.5 CPU-ns per message (noise).
#include "volley_workloads.hpp"

#include <volley/savina/fault_injection.hpp>

#include <algorithm>
#include <atomic>
#include <future>
#include <vector>

namespace volley::savina_on_volley {

namespace {

// Sends between two samples of the backlog: 1,221 samples at the reference
// size (20 M), and one cross-core load per 16,384 messages.
constexpr std::int64_t backlog_sample_every = 16384;

// Each increment carries its index: the counter checks the total and the sum
// of the indices, so a lost or duplicated increment changes both.
struct increment {
  std::int64_t index;
};
struct producer;

struct counter {
  struct get_total {
    actor_ref<producer> reply_to;
  };
  std::int64_t total = 0;
  std::int64_t index_sum = 0;
  /// `where` learns where the count is, for the producer's backlog sample.
  explicit counter(std::atomic<std::int64_t*>* where) {
    where->store(&total, std::memory_order_release);
  }
  void on(const increment& i) {
    // A relaxed atomic store (a plain store on x86): the producer's sample
    // reads the count while it changes; an old value only makes that
    // sample larger, and the reply below is ordered by its message.
    std::atomic_ref<std::int64_t>(total).store(total + 1, std::memory_order_relaxed);
    index_sum += i.index;
  }
  void on(const get_total& g);
};

struct producer {
  struct start {};
  struct total {
    std::int64_t value;
    std::int64_t index_sum;
  };
  actor_ref<counter> target;
  std::int64_t messages;
  std::promise<total>* done;
  const std::atomic<std::int64_t*>* handled;  ///< the counter's count, once it exists
  std::vector<std::int64_t>* backlog;         ///< reserved before the run: no allocation in it
  producer(actor_ref<counter> c, std::int64_t n, std::promise<total>* d,
           const std::atomic<std::int64_t*>* h, std::vector<std::int64_t>* b)
      : target(std::move(c)), messages(n), done(d), handled(h), backlog(b) {}
  void on(const start&, context& ctx) {
    for (std::int64_t chunk = 0; chunk < messages; chunk += backlog_sample_every) {
      backlog->push_back(chunk - handled_so_far());
      const std::int64_t end = std::min(messages, chunk + backlog_sample_every);
      for (std::int64_t i = chunk; i < end; ++i)
        for (int copy = i == 0 ? savina::copies_of_marked_message() : 1; copy > 0; --copy)
          target.tell(increment{i});
    }
    target.tell(counter::get_total{ctx.self_as<producer>()});
  }
  void on(const total& t) { done->set_value(t); }
  std::int64_t handled_so_far() const {
    // acquire: pairs with the counter's constructor, which runs on another
    // thread; the count itself is read relaxed (see counter::on).
    std::int64_t* count = handled->load(std::memory_order_acquire);
    return count == nullptr ? 0
                            : std::atomic_ref<std::int64_t>(*count).load(std::memory_order_relaxed);
  }
};

void counter::on(const get_total& g) {
  g.reply_to.tell(producer::total{total, index_sum});
}

/// The sorted samples' value at quantile `q`.
std::int64_t at_quantile(const std::vector<std::int64_t>& sorted, double q) {
  return sorted[static_cast<std::size_t>(q * static_cast<double>(sorted.size() - 1))];
}

}  // namespace

measurement counting(const parameters& p, int workers) {
  const auto messages = p.integer("messages");
  volley::system sys(make_config(workers));
  std::promise<producer::total> done;
  std::atomic<std::int64_t*> handled{nullptr};
  std::vector<std::int64_t> backlog;
  backlog.reserve(static_cast<std::size_t>(messages / backlog_sample_every + 1));
  auto c = sys.spawn<counter>(&handled);
  auto prod = sys.spawn<producer>(c, messages, &done, &handled, &backlog);
  savina::stopwatch clock;
  prod.tell(producer::start{});
  auto total = done.get_future().get();
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  sys.shutdown();
  savina::check(total.value == messages, "counter reached " + std::to_string(total.value) +
                                             ", expected " + std::to_string(messages));
  savina::check(total.index_sum == messages * (messages - 1) / 2,
                "the increments' indices sum to " + std::to_string(total.index_sum));
  m.messages = m.items = static_cast<std::uint64_t>(messages + 2);
  if (!backlog.empty()) {
    std::sort(backlog.begin(), backlog.end());
    m.details = {{"backlog_p10", at_quantile(backlog, 0.1)},
                 {"backlog_p50", at_quantile(backlog, 0.5)},
                 {"backlog_p90", at_quantile(backlog, 0.9)},
                 {"backlog_max", backlog.back()}};
  }
  return m;
}

}  // namespace volley::savina_on_volley
