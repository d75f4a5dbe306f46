// Sieve on volley: twin of bench/peers/caf/sieve.cpp. A producer sends the
// odd numbers 3, 5, ... below `limit` to a chain of filter actors; the first
// filter starts with the prime 2. A filter drops a candidate that one of its
// primes divides, passes it on when it has a successor, keeps it while it
// holds fewer than `per_filter` primes, and otherwise spawns its successor
// with the candidate as that filter's first prime: the chain grows as the
// primes are found (Savina's SieveActor).
//
// The producer ends the stream with an `end` message carrying how many
// candidates it sent; each filter checks that it received exactly that many
// and passes on how many it forwarded, together with the running count, sum
// and position-weighted sum of the primes held so far. A candidate lost or
// duplicated between any two actors fails a filter's count, and the last
// filter's totals must equal a sequential sieve (reference_answers.cpp).
#include "volley_workloads.hpp"

#include <volley/savina/fault_injection.hpp>
#include <volley/savina/reference_answers.hpp>

#include <future>

namespace volley::savina_on_volley {

namespace {

struct sieve_totals {
  savina::sieve_answer primes;
  std::int64_t messages = 0;  // candidates and end messages the filters received
  std::int64_t filters = 0;
};

struct prime_filter : volley::actor<prime_filter> {
  struct candidate {
    std::int64_t value;
  };
  struct end {
    std::int64_t candidates;  // how many the sender passed to this filter
    sieve_totals totals;      // of the filters before this one
  };

  std::int64_t capacity;
  std::promise<sieve_totals>* done;
  std::vector<std::int64_t> primes;
  actor_ref<prime_filter> next;
  bool has_next = false;
  std::int64_t received = 0, forwarded = 0;

  prime_filter(std::int64_t first_prime, std::int64_t per_filter, std::promise<sieve_totals>* d)
      : capacity(per_filter), done(d) {
    primes.reserve(static_cast<std::size_t>(per_filter));
    primes.push_back(first_prime);
  }

  void on(const candidate& c, context& ctx) {
    ++received;
    for (auto p : primes)
      if (c.value % p == 0) return;
    if (has_next) {
      ++forwarded;
      for (int copy = savina::copies_of_marked_message(); copy > 0; --copy) next.tell(c);
    } else if (static_cast<std::int64_t>(primes.size()) < capacity) {
      primes.push_back(c.value);
    } else {
      next = ctx.spawn<prime_filter>(c.value, capacity, done);
      has_next = true;
    }
  }

  void on(const end& e) {
    if (e.candidates != received)
      savina::wrong_answer("a sieve filter received " + std::to_string(received) +
                           " candidates, its predecessor sent " + std::to_string(e.candidates));
    auto totals = e.totals;
    for (auto p : primes) {
      ++totals.primes.count;
      totals.primes.sum += p;
      totals.primes.weighted_sum += totals.primes.count * p;
    }
    totals.messages += received + 1;
    ++totals.filters;
    if (has_next)
      next.tell(end{forwarded, totals});
    else
      done->set_value(totals);
  }
};

struct number_producer {
  struct start {};
  std::int64_t limit;
  actor_ref<prime_filter> head;
  number_producer(std::int64_t l, actor_ref<prime_filter> h) : limit(l), head(std::move(h)) {}

  void on(const start&) {
    std::int64_t sent = 0;
    for (std::int64_t value = 3; value < limit; value += 2, ++sent)
      head.tell(prime_filter::candidate{value});
    head.tell(prime_filter::end{sent, {}});
  }
};

}  // namespace

measurement sieve(const parameters& p, int workers) {
  const auto limit = p.integer("limit");
  const auto per_filter = p.integer("per_filter");
  volley::system sys(make_config(workers));
  std::promise<sieve_totals> done;
  auto head = sys.spawn<prime_filter>(std::int64_t{2}, per_filter, &done);
  auto producer = sys.spawn<number_producer>(limit, head);
  savina::stopwatch clock;
  producer.tell(number_producer::start{});
  auto totals = done.get_future().get();
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  sys.shutdown();
  savina::check(sys.dead_letters().count() == 0,
                std::to_string(sys.dead_letters().count()) + " messages became dead letters");
  const auto expected = savina::sieve_primes_below(limit);
  savina::check(totals.primes == expected,
                "primes: count " + std::to_string(totals.primes.count) + ", sum " +
                    std::to_string(totals.primes.sum) + ", weighted sum " +
                    std::to_string(totals.primes.weighted_sum) + "; expected " +
                    std::to_string(expected.count) + ", " + std::to_string(expected.sum) + ", " +
                    std::to_string(expected.weighted_sum));
  m.messages = m.items = static_cast<std::uint64_t>(totals.messages);
  return m;
}

}  // namespace volley::savina_on_volley
