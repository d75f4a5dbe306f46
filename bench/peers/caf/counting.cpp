// Counting: a producer sends `messages` increments to a counter, then asks
// for the total; the counter's mailbox is hammered by a single sender.
#include "caf_runtime.hpp"
#include "workloads.hpp"

#include <volley/savina/fault_injection.hpp>

namespace volley::caf_peer {

namespace {

// Each increment carries its index: the counter checks the total and the sum
// of the indices, so a lost or duplicated increment changes both.
struct counter_state {
  std::int64_t total = 0;
  std::int64_t index_sum = 0;
};

caf::behavior counter(caf::stateful_actor<counter_state>* self) {
  return {
      [=](increment_atom, std::int64_t index) {
        ++self->state.total;
        self->state.index_sum += index;
      },
      [=](total_atom) -> caf::result<std::int64_t, std::int64_t> {
        return {self->state.total, self->state.index_sum};
      },
  };
}

caf::behavior producer(caf::event_based_actor* self, caf::actor counter, std::int64_t messages,
                       caf::actor main) {
  return {[=](start_atom) {
    for (std::int64_t i = 0; i < messages; ++i)
      for (int copy = i == 0 ? savina::copies_of_marked_message() : 1; copy > 0; --copy)
        self->send(counter, increment_atom::value, i);
    self->request(counter, caf::infinite, total_atom::value)
        .then([=](std::int64_t total, std::int64_t index_sum) {
          self->send(main, done_atom::value, total, index_sum);
          self->quit();
        });
  }};
}

}  // namespace

measurement counting(const parameters& p, int workers) {
  const auto messages = p.integer("messages");
  caf_runtime rt(workers);
  caf::scoped_actor self{rt.system()};
  auto c = rt.system().spawn(counter);
  auto prod = rt.system().spawn(producer, c, messages, caf::actor{self});
  std::int64_t total = -1, index_sum = -1;
  savina::stopwatch clock;
  self->send(prod, start_atom::value);
  self->receive([&](done_atom, std::int64_t t, std::int64_t sum) {
    total = t;
    index_sum = sum;
  });
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  stop_all({c});
  savina::check(total == messages, "counter reached " + std::to_string(total) + ", expected " +
                                       std::to_string(messages));
  savina::check(index_sum == messages * (messages - 1) / 2,
                "the increments' indices sum to " + std::to_string(index_sum));
  m.messages = m.items = static_cast<std::uint64_t>(messages + 2);
  return m;
}

}  // namespace volley::caf_peer
