// Counting: a producer sends `messages` increments to a counter, then asks
// for the total; the counter's mailbox is hammered by a single sender.
#include "caf_runtime.hpp"
#include "workloads.hpp"

namespace volley::caf_peer {

namespace {

struct counter_state {
  std::int64_t total = 0;
};

caf::behavior counter(caf::stateful_actor<counter_state>* self) {
  return {
      [=](increment_atom) { ++self->state.total; },
      [=](total_atom) { return self->state.total; },
  };
}

caf::behavior producer(caf::event_based_actor* self, caf::actor counter, std::int64_t messages,
                       caf::actor main) {
  return {[=](start_atom) {
    for (std::int64_t i = 0; i < messages; ++i) self->send(counter, increment_atom::value);
    self->request(counter, caf::infinite, total_atom::value).then([=](std::int64_t total) {
      self->send(main, done_atom::value, total);
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
  std::int64_t total = -1;
  savina::stopwatch clock;
  self->send(prod, start_atom::value);
  self->receive([&](done_atom, std::int64_t t) { total = t; });
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  stop_all({c});
  savina::check(total == messages, "counter reached " + std::to_string(total) + ", expected " +
                                       std::to_string(messages));
  m.messages = m.items = static_cast<std::uint64_t>(messages + 2);
  return m;
}

}  // namespace volley::caf_peer
