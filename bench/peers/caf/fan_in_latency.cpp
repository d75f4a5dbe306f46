// Fan-in latency: `senders` actors send `messages` timestamped messages each
// to one receiver, keeping at most `window` unacknowledged; the receiver
// records now - timestamp for every message (send-to-handle latency).
#include "caf_runtime.hpp"
#include "workloads.hpp"

namespace volley::caf_peer {

namespace {

struct receiver_state {
  std::shared_ptr<std::vector<std::int64_t>> latencies;
};

caf::behavior receiver(caf::stateful_actor<receiver_state>* self,
                       std::shared_ptr<std::vector<std::int64_t>> latencies) {
  self->state.latencies = std::move(latencies);
  return {[=](data_atom, std::int64_t sent_ns) {
    self->state.latencies->push_back(savina::now_ns() - sent_ns);
    return ack_atom::value;
  }};
}

struct sender_state {
  std::int64_t sent = 0;
  std::int64_t acked = 0;
};

caf::behavior sender(caf::stateful_actor<sender_state>* self, caf::actor target, std::int64_t messages,
                     std::int64_t window, caf::actor main) {
  auto send_one = [=] {
    ++self->state.sent;
    self->send(target, data_atom::value, savina::now_ns());
  };
  return {
      [=](start_atom) {
        while (self->state.sent < std::min(window, messages)) send_one();
      },
      [=](ack_atom) {
        auto& s = self->state;
        if (++s.acked == messages) {
          self->send(main, done_atom::value);
          self->quit();
        } else if (s.sent < messages) {
          send_one();
        }
      },
  };
}

}  // namespace

measurement fan_in_latency(const parameters& p, int workers) {
  const auto senders = p.integer("senders");
  const auto messages = p.integer("messages");
  const auto window = std::max<std::int64_t>(1, p.integer("window"));
  caf_runtime rt(workers);
  caf::scoped_actor self{rt.system()};
  auto latencies = std::make_shared<std::vector<std::int64_t>>();
  latencies->reserve(static_cast<std::size_t>(senders * messages));
  auto recv = rt.system().spawn(receiver, latencies);
  std::vector<caf::actor> all;
  for (std::int64_t i = 0; i < senders; ++i)
    all.push_back(rt.system().spawn(sender, recv, messages, window, caf::actor{self}));
  savina::stopwatch clock;
  for (const auto& s : all) self->send(s, start_atom::value);
  for (std::int64_t i = 0; i < senders; ++i) self->receive([](done_atom) {});
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  stop_all({recv});
  savina::check(static_cast<std::int64_t>(latencies->size()) == senders * messages,
                "receiver handled " + std::to_string(latencies->size()) + " messages, expected " +
                    std::to_string(senders * messages));
  m.messages = m.items = static_cast<std::uint64_t>(2 * senders * messages);
  m.latencies_ns = std::move(*latencies);
  return m;
}

}  // namespace volley::caf_peer
