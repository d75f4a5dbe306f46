// Dining philosophers: `philosophers` philosophers each eat `rounds` times.
// A hungry philosopher asks the arbitrator for both forks; it gets them only
// if both are free, else it is denied and asks again. The arbitrator checks
// that a released fork was held, so a double grant is caught. Requests are
// numbered per philosopher and the answer echoes the number, so a
// duplicated or misrouted one is caught where it arrives; a lost one leaves
// a philosopher waiting (the deadline reports it).
#include "caf_runtime.hpp"
#include "workloads.hpp"

#include <volley/savina/fault_injection.hpp>

namespace volley::caf_peer {

namespace {

using hungry_atom = caf::atom_constant<caf::atom("hungry")>;
using release_atom = caf::atom_constant<caf::atom("release")>;
using leave_atom = caf::atom_constant<caf::atom("leave")>;

struct arbitrator_state {
  std::vector<bool> fork_taken;
  std::vector<std::int64_t> next_seq;  // per philosopher
  std::int64_t left = 0;
  std::int64_t meals = 0;
  std::int64_t received = 0;
  std::int64_t errors = 0;
};

caf::behavior arbitrator(caf::stateful_actor<arbitrator_state>* self, std::int64_t philosophers,
                         caf::actor main) {
  self->state.fork_taken.assign(static_cast<std::size_t>(philosophers), false);
  self->state.next_seq.assign(static_cast<std::size_t>(philosophers), 0);
  auto forks = [=](std::int64_t id) {
    return std::pair<std::size_t, std::size_t>(static_cast<std::size_t>(id),
                                               static_cast<std::size_t>((id + 1) % philosophers));
  };
  return {
      [=](hungry_atom, std::int64_t id, std::int64_t seq) {
        auto& s = self->state;
        ++s.received;
        auto& expected = s.next_seq[static_cast<std::size_t>(id)];
        if (seq != expected)
          savina::wrong_answer("arbitrator got request " + std::to_string(seq) +
                               " of philosopher " + std::to_string(id) + ", expected " +
                               std::to_string(expected));
        ++expected;
        auto [l, r] = forks(id);
        if (s.fork_taken[l] || s.fork_taken[r]) return caf::make_message(false, seq);
        s.fork_taken[l] = s.fork_taken[r] = true;
        ++s.meals;
        return caf::make_message(true, seq);
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
  std::int64_t asked = 0;  // hungry requests sent
};

caf::behavior philosopher(caf::stateful_actor<philosopher_state>* self, std::int64_t id,
                          std::int64_t rounds, caf::actor arb) {
  auto ask_for_forks = [=] { self->send(arb, hungry_atom::value, id, self->state.asked++); };
  return {
      [=](start_atom) {
        const auto seq = self->state.asked++;
        for (int copy = savina::copies_of_marked_message(); copy > 0; --copy)
          self->send(arb, hungry_atom::value, id, seq);
      },
      [=](bool granted, std::int64_t seq) {
        if (seq != self->state.asked - 1)
          savina::wrong_answer("philosopher " + std::to_string(id) + " got the answer to request " +
                               std::to_string(seq) + ", expected " +
                               std::to_string(self->state.asked - 1));
        if (!granted) {
          ask_for_forks();
          return;
        }
        self->send(arb, release_atom::value, id);
        if (++self->state.eaten < rounds) {
          ask_for_forks();
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
  for (std::int64_t i = 0; i < n; ++i)
    all.push_back(rt.system().spawn(philosopher, i, rounds, arb));
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
  savina::check(meals == n * rounds, "philosophers ate " + std::to_string(meals) +
                                         " meals, expected " + std::to_string(n * rounds));
  // Every hungry request got a reply: received hungry = received - releases - leaves.
  auto hungry = received - meals - n;
  m.messages = m.items = static_cast<std::uint64_t>(received + hungry);
  return m;
}

}  // namespace volley::caf_peer
