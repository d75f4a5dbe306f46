// Fibonacci on volley: twin of bench/peers/caf/fibonacci.cpp. One actor
// per recursive call: an actor asked for fib(n) with n <= 2 answers 1;
// otherwise it spawns two children, asks them for fib(n - 1) and
// fib(n - 2), answers the sum and stops. The tree has 2 fib(n) - 1 actors,
// each created by its parent: actor creation in trees, which no other
// workload exercises.
//
// Checks: the root's answer equals fib(n); every answer names the n it
// answers, and a parent takes exactly one answer for n - 1 and one for
// n - 2 (a duplicated, lost or misrouted answer shows); an actor asked
// twice is a wrong answer; every actor of the tree runs exactly once (a
// shared count), and nothing reaches a stopped actor (dead letters).
#include "volley_workloads.hpp"

#include <volley/savina/fault_injection.hpp>
#include <volley/savina/reference_answers.hpp>

#include <atomic>
#include <future>

namespace volley::savina_on_volley {

namespace {

struct fib_actor;

// What the whole tree shares: the count of actors that ran, and the
// root's answer for the main thread.
struct fib_tree {
  std::atomic<std::int64_t> ran{0};
  std::promise<std::int64_t> answer;
};

struct fib_actor : volley::actor<fib_actor> {
  struct request {
    std::int64_t n;
  };
  struct response {
    std::int64_t n;  // the n this answers, so the parent can tell its two children apart
    std::int64_t value;
  };

  actor_ref<fib_actor> parent;  // empty for the root, which answers the main thread
  fib_tree* tree;
  std::int64_t n = 0;
  bool asked = false;
  bool have_first = false;   // fib(n - 1)
  bool have_second = false;  // fib(n - 2)
  std::int64_t sum = 0;

  fib_actor(actor_ref<fib_actor> p, fib_tree* t) : parent(std::move(p)), tree(t) {}

  void on(const request& r, context& ctx) {
    if (asked) savina::wrong_answer("a fibonacci actor was asked twice");
    asked = true;
    n = r.n;
    tree->ran.fetch_add(1, std::memory_order_relaxed);
    if (n <= 2) {
      answer(1, ctx);
      return;
    }
    auto first = ctx.spawn<fib_actor>(self(), tree);
    auto second = ctx.spawn<fib_actor>(self(), tree);
    // The root's first request is the message a fault is injected into: a
    // copy reaches a living actor (n - 1 >= 3 waits for its children).
    for (int copy = parent ? 1 : savina::copies_of_marked_message(); copy > 0; --copy)
      first.tell(request{n - 1});
    second.tell(request{n - 2});
  }

  void on(const response& r, context& ctx) {
    bool& slot = r.n == n - 1 ? have_first : have_second;
    if ((r.n != n - 1 && r.n != n - 2) || slot)
      savina::wrong_answer("fib(" + std::to_string(n) + ") got an answer for fib(" +
                           std::to_string(r.n) + ") it did not expect");
    slot = true;
    sum += r.value;
    if (have_first && have_second) answer(sum, ctx);
  }

  void answer(std::int64_t value, context& ctx) {
    if (parent)
      parent.tell(response{n, value});
    else
      tree->answer.set_value(value);
    ctx.stop();
  }
};

}  // namespace

measurement fibonacci(const parameters& p, int workers) {
  const auto n = p.integer("n");
  volley::system sys(make_config(workers));
  fib_tree tree;
  auto answer = tree.answer.get_future();
  auto root = sys.spawn<fib_actor>(actor_ref<fib_actor>(), &tree);
  savina::stopwatch clock;
  root.tell(fib_actor::request{n});
  auto value = answer.get();
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  sys.shutdown();
  const auto expected = savina::fibonacci_number(n);
  const auto actors = savina::fibonacci_actors(n);
  savina::check(value == expected, "fib(" + std::to_string(n) + ") = " + std::to_string(value) +
                                       ", expected " + std::to_string(expected));
  savina::check(tree.ran.load() == actors, std::to_string(tree.ran.load()) + " actors ran, " +
                                               std::to_string(actors) + " were created");
  savina::check(sys.dead_letters().count() == 0,
                std::to_string(sys.dead_letters().count()) +
                    " messages reached a fibonacci actor that had already stopped");
  m.items = static_cast<std::uint64_t>(actors);
  m.messages = static_cast<std::uint64_t>(2 * actors);  // a request and an answer each
  return m;
}

}  // namespace volley::savina_on_volley
