// Big: `actors` actors each send `pings` pings, one at a time, to random
// peers, who pong back; many-to-many traffic with no hot spot.
#include "caf_runtime.hpp"
#include "workloads.hpp"

#include <volley/savina/fault_injection.hpp>

#include <volley/savina/pseudo_random.hpp>

namespace volley::caf_peer {

namespace {

struct big_state {
  actor_list peers;
  std::int64_t pongs = 0;
  savina::pseudo_random random{0};
};

caf::behavior big_actor(caf::stateful_actor<big_state>* self, std::int64_t id, std::int64_t pings,
                        caf::actor main) {
  self->state.random = savina::pseudo_random(static_cast<std::uint64_t>(id) + 1);
  auto send_ping = [=] {
    auto& s = *self->state.peers;
    auto n = static_cast<std::uint64_t>(s.size());
    auto target = self->state.random.below(n - 1);
    if (target >= static_cast<std::uint64_t>(id)) ++target;  // never ourselves
    // One ping out at a time, numbered by the pongs so far; the pong echoes
    // the number (as on volley).
    for (int copy = savina::copies_of_marked_message(); copy > 0; --copy)
      self->send(s[target], ping_atom::value, id, self->state.pongs);
  };
  return {
      [=](init_atom, const actor_list& peers) { self->state.peers = peers; },
      [=](start_atom) { send_ping(); },
      [=](ping_atom, std::int64_t from, std::int64_t seq) {
        self->send((*self->state.peers)[static_cast<std::size_t>(from)], pong_atom::value, seq);
      },
      [=](pong_atom, std::int64_t seq) {
        if (seq != self->state.pongs)
          savina::wrong_answer("big actor " + std::to_string(id) + " got pong " +
                               std::to_string(seq) + ", expected " +
                               std::to_string(self->state.pongs));
        if (++self->state.pongs == pings)
          self->send(main, done_atom::value, self->state.pongs);
        else
          send_ping();
      },
  };
}

}  // namespace

measurement big(const parameters& p, int workers) {
  const auto n = p.integer("actors");
  const auto pings = p.integer("pings");
  caf_runtime rt(workers);
  caf::scoped_actor self{rt.system()};
  auto actors = std::make_shared<std::vector<caf::actor>>();
  for (std::int64_t i = 0; i < n; ++i)
    actors->push_back(rt.system().spawn(big_actor, i, pings, caf::actor{self}));
  actor_list peers = actors;
  for (const auto& a : *actors) self->send(a, init_atom::value, peers);
  std::int64_t complete = 0;
  savina::stopwatch clock;
  for (const auto& a : *actors) self->send(a, start_atom::value);
  for (std::int64_t i = 0; i < n; ++i)
    self->receive([&](done_atom, std::int64_t pongs) { complete += pongs == pings; });
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  // The peer list is shared by every actor: drop it before stopping them.
  for (const auto& a : *actors) self->send(a, init_atom::value, actor_list{});
  stop_all(*actors);
  savina::check(complete == n, std::to_string(n - complete) + " actors did not get " +
                                   std::to_string(pings) + " pongs");
  m.messages = m.items = static_cast<std::uint64_t>(2 * n * pings);
  return m;
}

}  // namespace volley::caf_peer
