// Thread ring: `actors` actors in a ring pass a token `hops` times; only one
// message is in flight, so every hop is a wake-up of a different actor.
#include "caf_runtime.hpp"
#include "workloads.hpp"

#include <volley/savina/fault_injection.hpp>

namespace volley::caf_peer {

namespace {

// expect_left: the token's `left` this member must see next (hops - id,
// then ring size fewer each lap); a duplicated token repeats a value.
struct ring_state {
  caf::actor next;
  std::int64_t expect_left = 0;
};

caf::behavior ring_member(caf::stateful_actor<ring_state>* self, std::int64_t id,
                          std::int64_t ring_size, std::int64_t hops, caf::actor main) {
  self->state.expect_left = hops - id;
  return {
      [=](init_atom, const caf::actor& next) { self->state.next = next; },
      [=](token_atom, std::int64_t left) {
        if (left != self->state.expect_left)
          savina::wrong_answer("ring member " + std::to_string(id) + " got the token with " +
                               std::to_string(left) + " hops left, expected " +
                               std::to_string(self->state.expect_left));
        self->state.expect_left -= ring_size;
        if (left == 0) {
          self->send(main, done_atom::value, id);
          return;
        }
        for (int copy = savina::copies_of_marked_message(); copy > 0; --copy)
          self->send(self->state.next, token_atom::value, left - 1);
      },
  };
}

}  // namespace

measurement thread_ring(const parameters& p, int workers) {
  const auto n = p.integer("actors");
  const auto hops = p.integer("hops");
  caf_runtime rt(workers);
  caf::scoped_actor self{rt.system()};
  std::vector<caf::actor> ring;
  for (std::int64_t i = 0; i < n; ++i)
    ring.push_back(rt.system().spawn(ring_member, i, n, hops, caf::actor{self}));
  for (std::int64_t i = 0; i < n; ++i) self->send(ring[i], init_atom::value, ring[(i + 1) % n]);
  std::int64_t last = -1;
  savina::stopwatch clock;
  self->send(ring[0], token_atom::value, hops);
  self->receive([&](done_atom, std::int64_t id) { last = id; });
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  // Break the ring's reference cycle, then stop it.
  for (const auto& a : ring) self->send(a, init_atom::value, caf::actor{});
  stop_all(ring);
  savina::check(last == hops % n, "token stopped at actor " + std::to_string(last) + ", expected " +
                                      std::to_string(hops % n));
  m.messages = m.items = static_cast<std::uint64_t>(hops);
  return m;
}

}  // namespace volley::caf_peer
