// Quicksort: twin of bench/savina/quicksort.cpp. A sort actor that gets
// fewer than `threshold` values sorts them sequentially and replies; one
// that gets more splits them around the middle value, spawns a child for
// each side, and replies with both sorted sides joined around the pivot's
// run once both children have replied. The split and the sequential sort are
// reference_answers.cpp's, shared with volley.
//
// A sort actor takes exactly one request and one reply per side: a second
// of either is a wrong answer. Actors never quit themselves (CAF would drop
// a message to an actor that has quit unseen): CAF destroys one once nothing
// refers to it and its mailbox is empty, so a duplicate already queued is
// still handled. The children are not linked to their parent: a child that
// becomes unreachable exits with reason `unreachable`, which would kill its
// linked parent before the other child's reply. The result must equal the
// input sorted sequentially.
#include "caf_runtime.hpp"
#include "workloads.hpp"

#include <volley/savina/fault_injection.hpp>
#include <volley/savina/reference_answers.hpp>

#include <optional>

namespace volley::caf_peer {

namespace {

using values = std::vector<std::int64_t>;

struct sort_state {
  std::int64_t requests = 0;
  values equal;
  std::optional<values> parts[2];
  std::int64_t actors = 1;  // in the tree below and including this actor
};

// `reply_to` is the parent, or for the root (side -1) the main thread.
caf::behavior sort_actor(caf::stateful_actor<sort_state>* self, caf::actor reply_to, int side,
                         std::int64_t threshold) {
  auto reply = [=](values& sorted) {
    if (side < 0)
      self->send(reply_to, done_atom::value, std::move(sorted), self->state.actors);
    else
      self->send(reply_to, result_atom::value, side, std::move(sorted), self->state.actors);
  };
  return {
      [=](work_atom, values& unsorted) {
        auto& s = self->state;
        if (++s.requests != 1) savina::wrong_answer("a sort actor got a second request");
        if (static_cast<std::int64_t>(unsorted.size()) < threshold) {
          savina::quicksort_sequential(unsorted);
          reply(unsorted);
          return;
        }
        auto split = savina::quicksort_partition(unsorted);
        s.equal = std::move(split.equal);
        auto less = self->spawn(sort_actor, caf::actor{self}, 0, threshold);
        auto greater = self->spawn(sort_actor, caf::actor{self}, 1, threshold);
        for (int copy = savina::copies_of_marked_message(); copy > 0; --copy)
          self->send(less, work_atom::value, copy > 1 ? split.less : std::move(split.less));
        self->send(greater, work_atom::value, std::move(split.greater));
      },
      [=](result_atom, int from_side, values& sorted, std::int64_t actors) {
        auto& s = self->state;
        auto& part = s.parts[from_side];
        if (part) savina::wrong_answer("a sort actor got a second reply for one side");
        part = std::move(sorted);
        s.actors += actors;
        if (!s.parts[0] || !s.parts[1]) return;
        auto& joined = *s.parts[0];
        joined.insert(joined.end(), s.equal.begin(), s.equal.end());
        joined.insert(joined.end(), s.parts[1]->begin(), s.parts[1]->end());
        reply(joined);
      },
  };
}

}  // namespace

measurement quicksort(const parameters& p, int workers) {
  const auto elements = p.integer("elements");
  const auto threshold = p.integer("threshold");
  const auto seed = p.integer("seed");
  auto input = savina::quicksort_input(elements, static_cast<std::uint64_t>(seed));
  caf_runtime rt(workers);
  caf::scoped_actor self{rt.system()};
  auto root = rt.system().spawn(sort_actor, caf::actor{self}, -1, threshold);
  values result;
  std::int64_t actors = 0;
  auto unsorted = input;  // copied before the clock starts
  savina::stopwatch clock;
  self->send(root, work_atom::value, std::move(unsorted));
  self->receive([&](done_atom, values& sorted, std::int64_t a) {
    result = std::move(sorted);
    actors = a;
  });
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  stop_all({root});
  savina::quicksort_sequential(input);
  savina::check(result.size() == input.size(), std::to_string(result.size()) +
                                                   " values came back, " +
                                                   std::to_string(input.size()) + " went in");
  savina::check(result == input, "the values came back out of order or changed");
  // A request to each actor and a reply from each.
  m.messages = static_cast<std::uint64_t>(2 * actors);
  m.items = static_cast<std::uint64_t>(elements);
  return m;
}

}  // namespace volley::caf_peer
