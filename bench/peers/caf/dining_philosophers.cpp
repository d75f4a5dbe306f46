// Dining philosophers: `philosophers` philosophers each eat `rounds` times.
// A hungry philosopher asks the arbitrator for both forks; it gets them only
// if both are free, else it is denied and asks again. The arbitrator checks
// that a released fork was held, so a double grant is caught.
#include "caf_runtime.hpp"
#include "workloads.hpp"

namespace volley::caf_peer {

namespace {

using hungry_atom = caf::atom_constant<caf::atom("hungry")>;
using release_atom = caf::atom_constant<caf::atom("release")>;
using leave_atom = caf::atom_constant<caf::atom("leave")>;

struct arbitrator_state {
  std::vector<bool> fork_taken;
  std::int64_t left = 0;
  std::int64_t meals = 0;
  std::int64_t received = 0;
  std::int64_t errors = 0;
};

caf::behavior arbitrator(caf::stateful_actor<arbitrator_state>* self, std::int64_t philosophers,
                         caf::actor main) {
  self->state.fork_taken.assign(static_cast<std::size_t>(philosophers), false);
  auto forks = [=](std::int64_t id) {
    return std::pair<std::size_t, std::size_t>(static_cast<std::size_t>(id),
                                               static_cast<std::size_t>((id + 1) % philosophers));
  };
  return {
      [=](hungry_atom, std::int64_t id) {
        auto& s = self->state;
        ++s.received;
        auto [l, r] = forks(id);
        if (s.fork_taken[l] || s.fork_taken[r]) return false;
        s.fork_taken[l] = s.fork_taken[r] = true;
        ++s.meals;
        return true;
      },
      [=](release_atom, std::int64_t id) {
        auto& s = self->state;
        ++s.received;
        auto [l, r] = forks(id);
        if (!s.fork_taken[l] || !s.fork_taken[r]) ++s.errors;
        s.fork_taken[l] = s.fork_taken[r] = false;
      },
      [=](leave_atom) {
        auto& s = self->state;
        ++s.received;
        if (++s.left == philosophers) {
          self->send(main, done_atom::value, s.meals, s.received, s.errors);
          self->quit();
        }
      },
  };
}

struct philosopher_state {
  std::int64_t eaten = 0;
};

caf::behavior philosopher(caf::stateful_actor<philosopher_state>* self, std::int64_t id,
                          std::int64_t rounds, caf::actor arb) {
  return {
      [=](start_atom) { self->send(arb, hungry_atom::value, id); },
      [=](bool granted) {
        if (!granted) {
          self->send(arb, hungry_atom::value, id);
          return;
        }
        self->send(arb, release_atom::value, id);
        if (++self->state.eaten < rounds) {
          self->send(arb, hungry_atom::value, id);
        } else {
          self->send(arb, leave_atom::value);
          self->quit();
        }
      },
  };
}

}  // namespace

measurement dining_philosophers(const parameters& p, int workers) {
  const auto n = p.integer("philosophers");
  const auto rounds = p.integer("rounds");
  caf_runtime rt(workers);
  caf::scoped_actor self{rt.system()};
  auto arb = rt.system().spawn(arbitrator, n, caf::actor{self});
  std::vector<caf::actor> all;
  for (std::int64_t i = 0; i < n; ++i) all.push_back(rt.system().spawn(philosopher, i, rounds, arb));
  std::int64_t meals = 0, received = 0, errors = 0;
  savina::stopwatch clock;
  for (const auto& ph : all) self->send(ph, start_atom::value);
  self->receive([&](done_atom, std::int64_t m, std::int64_t r, std::int64_t e) {
    meals = m;
    received = r;
    errors = e;
  });
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  savina::check(errors == 0, std::to_string(errors) + " forks were released that were not held");
  savina::check(meals == n * rounds, "philosophers ate " + std::to_string(meals) + " meals, expected " +
                                         std::to_string(n * rounds));
  // Every hungry request got a reply: received hungry = received - releases - leaves.
  auto hungry = received - meals - n;
  m.messages = m.items = static_cast<std::uint64_t>(received + hungry);
  return m;
}

}  // namespace volley::caf_peer
