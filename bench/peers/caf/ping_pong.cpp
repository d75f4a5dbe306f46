// Ping-pong: a pinger and a ponger exchange `pings` round trips; every
// message waits for the previous one, so this measures one hand-off at a time.
#include "caf_runtime.hpp"
#include "workloads.hpp"

#include <volley/savina/fault_injection.hpp>

namespace volley::caf_peer {

namespace {

struct pinger_state {
  caf::actor ponger;
  std::int64_t received = 0;
};

// Pings and pongs carry sequence numbers (as on volley): the ponger expects
// 1, 2, 3, ... and the pinger its own last ping back.
caf::behavior pinger(caf::stateful_actor<pinger_state>* self, std::int64_t pings, caf::actor main) {
  auto send_ping = [=] {
    for (int copy = savina::copies_of_marked_message(); copy > 0; --copy)
      self->send(self->state.ponger, ping_atom::value, self->state.received + 1);
  };
  return {
      [=](start_atom, const caf::actor& ponger) {
        self->state.ponger = ponger;
        send_ping();
      },
      [=](pong_atom, std::int64_t seq) {
        if (seq != ++self->state.received)
          savina::wrong_answer("pinger got pong " + std::to_string(seq) + " as its pong " +
                               std::to_string(self->state.received));
        if (self->state.received == pings) {
          self->send(main, done_atom::value, self->state.received);
          self->state.ponger = nullptr;
          self->quit();
          return;
        }
        send_ping();
      },
  };
}

struct ponger_state {
  std::int64_t received = 0;
};

caf::behavior ponger(caf::stateful_actor<ponger_state>* self, caf::actor pinger) {
  return {[=](ping_atom, std::int64_t seq) {
    if (seq != ++self->state.received)
      savina::wrong_answer("ponger got ping " + std::to_string(seq) + " as its ping " +
                           std::to_string(self->state.received));
    self->send(pinger, pong_atom::value, seq);
  }};
}

}  // namespace

measurement ping_pong(const parameters& p, int workers) {
  const auto pings = p.integer("pings");
  caf_runtime rt(workers);
  caf::scoped_actor self{rt.system()};
  auto a = rt.system().spawn(pinger, pings, caf::actor{self});
  auto b = rt.system().spawn(ponger, a);
  std::int64_t received = 0;
  savina::stopwatch clock;
  self->send(a, start_atom::value, b);
  self->receive([&](done_atom, std::int64_t n) { received = n; });
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  stop_all({b});
  savina::check(received == pings, "pinger saw " + std::to_string(received) + " pongs, expected " +
                                       std::to_string(pings));
  m.messages = m.items = static_cast<std::uint64_t>(2 * pings);
  return m;
}

}  // namespace volley::caf_peer
