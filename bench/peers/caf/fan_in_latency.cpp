// Fan-in latency: `senders` actors send `messages` timestamped messages each
// to one receiver, keeping at most `window` unacknowledged; the receiver
// records now - timestamp for every message (send-to-handle latency). Each
// sender numbers its messages; the receiver expects the next number from
// each and the ack echoes it, so a duplicated or misrouted message is caught
// where it arrives and a lost one leaves its sender waiting (the deadline
// reports it).
#include "caf_runtime.hpp"
#include "workloads.hpp"

#include <volley/savina/fault_injection.hpp>

namespace volley::caf_peer {

namespace {

struct receiver_state {
  std::shared_ptr<std::vector<std::int64_t>> latencies;
  std::vector<std::int64_t> next_seq;  // per sender
};

caf::behavior receiver(caf::stateful_actor<receiver_state>* self,
                       std::shared_ptr<std::vector<std::int64_t>> latencies, std::int64_t senders) {
  self->state.latencies = std::move(latencies);
  self->state.next_seq.assign(static_cast<std::size_t>(senders), 0);
  return {[=](data_atom, std::int64_t sent_ns, std::int64_t from, std::int64_t seq) {
    self->state.latencies->push_back(savina::now_ns() - sent_ns);
    auto& expected = self->state.next_seq[static_cast<std::size_t>(from)];
    if (seq != expected)
      savina::wrong_answer("fan-in receiver got message " + std::to_string(seq) + " of sender " +
                           std::to_string(from) + ", expected " + std::to_string(expected));
    ++expected;
    return caf::make_message(ack_atom::value, seq);
  }};
}

struct sender_state {
  std::int64_t sent = 0;
  std::int64_t acked = 0;
};

caf::behavior sender(caf::stateful_actor<sender_state>* self, std::int64_t id, caf::actor target,
                     std::int64_t messages, std::int64_t window, caf::actor main) {
  auto send_one = [=] {
    const auto seq = self->state.sent++;
    for (int copy = savina::copies_of_marked_message(); copy > 0; --copy)
      self->send(target, data_atom::value, savina::now_ns(), id, seq);
  };
  return {
      [=](start_atom) {
        while (self->state.sent < std::min(window, messages)) send_one();
      },
      [=](ack_atom, std::int64_t seq) {
        auto& s = self->state;
        if (seq != s.acked)
          savina::wrong_answer("fan-in sender " + std::to_string(id) + " got ack " +
                               std::to_string(seq) + ", expected " + std::to_string(s.acked));
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
  auto recv = rt.system().spawn(receiver, latencies, senders);
  std::vector<caf::actor> all;
  for (std::int64_t i = 0; i < senders; ++i)
    all.push_back(rt.system().spawn(sender, i, recv, messages, window, caf::actor{self}));
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
