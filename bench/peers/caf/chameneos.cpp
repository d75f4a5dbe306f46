// Chameneos: `chameneos` creatures meet through a mall `meetings` times.
// Two waiting creatures are paired by the mall; each changes its colour by
// the complement rule. When the meetings are used up, every creature fades
// and reports how many meetings it had; their sum must be 2 * meetings.
// Every creature sends one `meet` to start and one after each meeting, so
// the mall must receive exactly creatures + that sum: a lost meet leaves a
// creature that never fades (the deadline catches it), a duplicated one
// shows in the count.
#include "caf_runtime.hpp"
#include "workloads.hpp"

#include <volley/savina/fault_injection.hpp>

namespace volley::caf_peer {

namespace {

using meet_atom = caf::atom_constant<caf::atom("meet")>;
using change_atom = caf::atom_constant<caf::atom("change")>;
using fade_atom = caf::atom_constant<caf::atom("fade")>;
using count_atom = caf::atom_constant<caf::atom("count")>;

enum colour : std::int32_t { blue = 0, red = 1, yellow = 2 };

std::int32_t complement(std::int32_t a, std::int32_t b) {
  return a == b ? a : 3 - a - b;
}

struct mall_state {
  std::int64_t meetings_left = 0;
  caf::actor waiting;
  std::int32_t waiting_colour = 0;
  std::int64_t faded = 0;
  std::int64_t meetings_sum = 0;
  std::int64_t received = 0;
  std::int64_t meets = 0;
};

caf::behavior mall(caf::stateful_actor<mall_state>* self, std::int64_t meetings,
                   std::int64_t creatures, caf::actor main) {
  self->state.meetings_left = meetings;
  return {
      [=](meet_atom, std::int32_t colour) {
        auto& s = self->state;
        ++s.received;
        ++s.meets;
        auto sender = caf::actor_cast<caf::actor>(self->current_sender());
        if (s.meetings_left == 0) {
          self->send(sender, fade_atom::value);
        } else if (!s.waiting) {
          s.waiting = sender;
          s.waiting_colour = colour;
        } else {
          --s.meetings_left;
          self->send(s.waiting, meet_atom::value, colour, sender);
          s.waiting = nullptr;
        }
      },
      [=](count_atom, std::int64_t meetings_of_one) {
        auto& s = self->state;
        ++s.received;
        s.meetings_sum += meetings_of_one;
        if (++s.faded == creatures) {
          self->send(main, done_atom::value, s.meetings_sum, s.received, s.meets);
          self->quit();
        }
      },
  };
}

struct creature_state {
  std::int32_t colour = 0;
  std::int64_t meetings = 0;
};

caf::behavior creature(caf::stateful_actor<creature_state>* self, std::int32_t colour,
                       caf::actor mall) {
  self->state.colour = colour;
  return {
      [=](start_atom) {
        for (int copy = savina::copies_of_marked_message(); copy > 0; --copy)
          self->send(mall, meet_atom::value, self->state.colour);
      },
      [=](meet_atom, std::int32_t other_colour, const caf::actor& other) {
        auto& s = self->state;
        s.colour = complement(s.colour, other_colour);
        ++s.meetings;
        self->send(other, change_atom::value, s.colour);
        self->send(mall, meet_atom::value, s.colour);
      },
      [=](change_atom, std::int32_t new_colour) {
        auto& s = self->state;
        s.colour = new_colour;
        ++s.meetings;
        self->send(mall, meet_atom::value, s.colour);
      },
      [=](fade_atom) {
        self->send(mall, count_atom::value, self->state.meetings);
        self->quit();
      },
  };
}

}  // namespace

measurement chameneos(const parameters& p, int workers) {
  const auto creatures = p.integer("chameneos");
  const auto meetings = p.integer("meetings");
  caf_runtime rt(workers);
  caf::scoped_actor self{rt.system()};
  auto m_actor = rt.system().spawn(mall, meetings, creatures, caf::actor{self});
  std::vector<caf::actor> all;
  for (std::int64_t i = 0; i < creatures; ++i)
    all.push_back(rt.system().spawn(creature, static_cast<std::int32_t>(i % 3), m_actor));
  std::int64_t sum = -1, mall_received = 0, meets = 0;
  savina::stopwatch clock;
  for (const auto& c : all) self->send(c, start_atom::value);
  self->receive([&](done_atom, std::int64_t s, std::int64_t r, std::int64_t mt) {
    sum = s;
    mall_received = r;
    meets = mt;
  });
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  savina::check(sum == 2 * meetings, "creatures report " + std::to_string(sum) +
                                         " meetings in all, expected " +
                                         std::to_string(2 * meetings));
  savina::check(meets == creatures + sum, "the mall got " + std::to_string(meets) +
                                              " meet messages, expected " +
                                              std::to_string(creatures + sum));
  // Mall's inbox, plus per meeting one meet to the waiting creature and one
  // change back, plus one fade per creature.
  m.messages = m.items = static_cast<std::uint64_t>(mall_received + 2 * meetings + creatures);
  return m;
}

}  // namespace volley::caf_peer
