// Quicksort on volley: twin of bench/peers/caf/quicksort.cpp. A sort actor
// that gets fewer than `threshold` values sorts them sequentially and
// replies; one that gets more splits them around the middle value, spawns a
// child for each side, and replies with both sorted sides joined around the
// pivot's run once both children have replied (Savina's QuickSortActor). The
// input is `elements` splitmix64 values from `seed`; the split and the
// sequential sort are reference_answers.cpp's, shared with CAF, and the
// Erlang twin does the same on lists.
//
// A sort actor takes exactly one request and one reply per side: a second
// of either is a wrong answer, and one that arrives after the actor stopped
// is a dead letter, which must not happen either. A lost message leaves the
// root waiting (--deadline reports it). The result must equal the input
// sorted sequentially, element by element.
#include "volley_workloads.hpp"

#include <volley/savina/fault_injection.hpp>
#include <volley/savina/reference_answers.hpp>

#include <future>
#include <optional>

namespace volley::savina_on_volley {

namespace {

using values = std::vector<std::int64_t>;

struct sort_result {
  values sorted;
  std::int64_t actors;  // in the tree below and including the replying actor
};

struct sort_actor : volley::actor<sort_actor> {
  struct sort {
    values unsorted;
  };
  struct sorted {
    int side;  // 0: less than the pivot, 1: greater
    sort_result result;
  };

  actor_ref<sort_actor> parent;  // empty for the root, which answers `done`
  int side;
  std::int64_t threshold;
  std::promise<sort_result>* done;
  std::int64_t requests = 0;
  values equal;
  std::optional<sort_result> parts[2];

  sort_actor(actor_ref<sort_actor> p, int s, std::int64_t t, std::promise<sort_result>* d)
      : parent(std::move(p)), side(s), threshold(t), done(d) {}

  void on(sort&& request, context& ctx) {
    if (++requests != 1) savina::wrong_answer("a sort actor got a second request");
    if (static_cast<std::int64_t>(request.unsorted.size()) < threshold) {
      savina::quicksort_sequential(request.unsorted);
      reply({std::move(request.unsorted), 1}, ctx);
      return;
    }
    auto split = savina::quicksort_partition(request.unsorted);
    equal = std::move(split.equal);
    auto less = ctx.spawn<sort_actor>(self(), 0, threshold, done);
    auto greater = ctx.spawn<sort_actor>(self(), 1, threshold, done);
    for (int copy = savina::copies_of_marked_message(); copy > 0; --copy)
      less.tell(sort{copy > 1 ? split.less : std::move(split.less)});
    greater.tell(sort{std::move(split.greater)});
  }

  void on(sorted&& r, context& ctx) {
    auto& part = parts[r.side];
    if (part) savina::wrong_answer("a sort actor got a second reply for one side");
    part = std::move(r.result);
    if (!parts[0] || !parts[1]) return;
    auto& joined = parts[0]->sorted;
    joined.insert(joined.end(), equal.begin(), equal.end());
    joined.insert(joined.end(), parts[1]->sorted.begin(), parts[1]->sorted.end());
    reply({std::move(joined), parts[0]->actors + parts[1]->actors + 1}, ctx);
  }

  // Replies and stops: a message that reaches this actor later becomes a
  // dead letter, which the run counts.
  void reply(sort_result result, context& ctx) {
    if (parent)
      parent.tell(sorted{side, std::move(result)});
    else
      done->set_value(std::move(result));
    ctx.stop();
  }
};

}  // namespace

measurement quicksort(const parameters& p, int workers) {
  const auto elements = p.integer("elements");
  const auto threshold = p.integer("threshold");
  const auto seed = p.integer("seed");
  auto input = savina::quicksort_input(elements, static_cast<std::uint64_t>(seed));
  volley::system sys(make_config(workers));
  std::promise<sort_result> done;
  auto root = sys.spawn<sort_actor>(actor_ref<sort_actor>{}, 0, threshold, &done);
  auto unsorted = input;  // copied before the clock starts
  savina::stopwatch clock;
  root.tell(sort_actor::sort{std::move(unsorted)});
  auto result = done.get_future().get();
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  sys.shutdown();
  savina::check(sys.dead_letters().count() == 0,
                std::to_string(sys.dead_letters().count()) + " messages became dead letters");
  savina::quicksort_sequential(input);
  savina::check(result.sorted.size() == input.size(),
                std::to_string(result.sorted.size()) + " values came back, " +
                    std::to_string(input.size()) + " went in");
  savina::check(result.sorted == input, "the values came back out of order or changed");
  // A request to each actor and a reply from each.
  m.messages = static_cast<std::uint64_t>(2 * result.actors);
  m.items = static_cast<std::uint64_t>(elements);
  return m;
}

}  // namespace volley::savina_on_volley
