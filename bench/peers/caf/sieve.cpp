// Sieve: twin of bench/savina/sieve.cpp. A producer sends the odd numbers
// 3, 5, ... below `limit` to a chain of filter actors; the first filter
// starts with the prime 2. A filter drops a candidate that one of its primes
// divides, passes it on when it has a successor, keeps it while it holds
// fewer than `per_filter` primes, and otherwise spawns its successor with
// the candidate as that filter's first prime.
//
// The producer ends the stream with an `end` message carrying how many
// candidates it sent; each filter checks that it received exactly that many
// and passes on how many it forwarded, with the running count, sum and
// position-weighted sum of the primes so far. The last filter's totals must
// equal a sequential sieve.
#include "caf_runtime.hpp"
#include "workloads.hpp"

#include <volley/savina/fault_injection.hpp>
#include <volley/savina/reference_answers.hpp>

namespace volley::caf_peer {

namespace {

using end_atom = caf::atom_constant<caf::atom("end")>;

struct filter_state {
  std::vector<std::int64_t> primes;
  caf::actor next;
  std::int64_t received = 0;
  std::int64_t forwarded = 0;
};

caf::behavior prime_filter(caf::stateful_actor<filter_state>* self, std::int64_t first_prime,
                           std::int64_t capacity, caf::actor main) {
  self->state.primes.reserve(static_cast<std::size_t>(capacity));
  self->state.primes.push_back(first_prime);
  return {
      [=](data_atom, std::int64_t value) {
        auto& s = self->state;
        ++s.received;
        for (auto p : s.primes)
          if (value % p == 0) return;
        if (s.next) {
          ++s.forwarded;
          for (int copy = savina::copies_of_marked_message(); copy > 0; --copy)
            self->send(s.next, data_atom::value, value);
        } else if (static_cast<std::int64_t>(s.primes.size()) < capacity) {
          s.primes.push_back(value);
        } else {
          s.next = self->spawn(prime_filter, value, capacity, main);
        }
      },
      // The totals of the filters before this one: primes, their sum and
      // weighted sum, messages the filters received, filters.
      [=](end_atom, std::int64_t candidates, std::int64_t count, std::int64_t sum,
          std::int64_t weighted_sum, std::int64_t messages, std::int64_t filters) {
        auto& s = self->state;
        if (candidates != s.received)
          savina::wrong_answer("a sieve filter received " + std::to_string(s.received) +
                               " candidates, its predecessor sent " + std::to_string(candidates));
        for (auto p : s.primes) {
          ++count;
          sum += p;
          weighted_sum += count * p;
        }
        messages += s.received + 1;
        if (s.next)
          self->send(s.next, end_atom::value, s.forwarded, count, sum, weighted_sum, messages,
                     filters + 1);
        else
          self->send(main, done_atom::value, count, sum, weighted_sum, messages, filters + 1);
        self->quit();
      },
  };
}

caf::behavior number_producer(caf::event_based_actor* self, std::int64_t limit, caf::actor head) {
  return {[=](start_atom) {
    std::int64_t sent = 0;
    for (std::int64_t value = 3; value < limit; value += 2, ++sent)
      self->send(head, data_atom::value, value);
    self->send(head, end_atom::value, sent, std::int64_t{0}, std::int64_t{0}, std::int64_t{0},
               std::int64_t{0}, std::int64_t{0});
    self->quit();
  }};
}

}  // namespace

measurement sieve(const parameters& p, int workers) {
  const auto limit = p.integer("limit");
  const auto per_filter = p.integer("per_filter");
  caf_runtime rt(workers);
  caf::scoped_actor self{rt.system()};
  auto head = rt.system().spawn(prime_filter, std::int64_t{2}, per_filter, caf::actor{self});
  auto producer = rt.system().spawn(number_producer, limit, head);
  savina::sieve_answer primes;
  std::int64_t messages = 0;
  savina::stopwatch clock;
  self->send(producer, start_atom::value);
  self->receive([&](done_atom, std::int64_t count, std::int64_t sum, std::int64_t weighted_sum,
                    std::int64_t received, std::int64_t) {
    primes = {count, sum, weighted_sum};
    messages = received;
  });
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  const auto expected = savina::sieve_primes_below(limit);
  savina::check(primes == expected, "primes: count " + std::to_string(primes.count) + ", sum " +
                                        std::to_string(primes.sum) + ", weighted sum " +
                                        std::to_string(primes.weighted_sum) + "; expected " +
                                        std::to_string(expected.count) + ", " +
                                        std::to_string(expected.sum) + ", " +
                                        std::to_string(expected.weighted_sum));
  m.messages = m.items = static_cast<std::uint64_t>(messages);
  return m;
}

}  // namespace volley::caf_peer
