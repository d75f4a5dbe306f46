// Fibonacci: one actor per recursive call (twin of
// bench/savina/fibonacci.cpp). An actor asked for fib(n) with n <= 2
// answers 1; otherwise it spawns two children, asks them for fib(n - 1)
// and fib(n - 2), answers the sum and quits. The tree has 2 fib(n) - 1
// actors, each spawned by its parent.
//
// Checks as on volley: the root's answer equals fib(n); a parent takes
// exactly one answer for n - 1 and one for n - 2; an actor asked twice is
// a wrong answer; every actor of the tree runs exactly once. (CAF drops a
// message to an actor that has quit unseen, so a copy of a leaf's request
// would pass unseen; the marked message goes to a living actor.)
#include "caf_runtime.hpp"
#include "workloads.hpp"

#include <volley/savina/fault_injection.hpp>
#include <volley/savina/reference_answers.hpp>

#include <atomic>
#include <memory>

namespace volley::caf_peer {

namespace {

struct fib_state {
  std::int64_t n = 0;
  bool asked = false;
  bool have_first = false;   // fib(n - 1)
  bool have_second = false;  // fib(n - 2)
  std::int64_t sum = 0;
};

// The count of actors that ran, shared by the whole tree.
using run_count = std::shared_ptr<std::atomic<std::int64_t>>;

// `parent` is the main thread's scoped actor for the root; `is_root` says so
// (the root's first request is the message a fault is injected into).
caf::behavior fib_actor(caf::stateful_actor<fib_state>* self, caf::actor parent, bool is_root,
                        run_count ran) {
  auto answer = [=](std::int64_t value) {
    self->send(parent, result_atom::value, self->state.n, value);
    self->quit();
  };
  return {
      [=](work_atom, std::int64_t n) {
        auto& s = self->state;
        if (s.asked) savina::wrong_answer("a fibonacci actor was asked twice");
        s.asked = true;
        s.n = n;
        ran->fetch_add(1, std::memory_order_relaxed);
        if (n <= 2) {
          answer(1);
          return;
        }
        auto me = caf::actor_cast<caf::actor>(self);
        auto first = self->spawn(fib_actor, me, false, ran);
        auto second = self->spawn(fib_actor, me, false, ran);
        for (int copy = is_root ? savina::copies_of_marked_message() : 1; copy > 0; --copy)
          self->send(first, work_atom::value, n - 1);
        self->send(second, work_atom::value, n - 2);
      },
      [=](result_atom, std::int64_t n, std::int64_t value) {
        auto& s = self->state;
        bool& slot = n == s.n - 1 ? s.have_first : s.have_second;
        if ((n != s.n - 1 && n != s.n - 2) || slot)
          savina::wrong_answer("fib(" + std::to_string(s.n) + ") got an answer for fib(" +
                               std::to_string(n) + ") it did not expect");
        slot = true;
        s.sum += value;
        if (s.have_first && s.have_second) answer(s.sum);
      },
  };
}

}  // namespace

measurement fibonacci(const parameters& p, int workers) {
  const auto n = p.integer("n");
  caf_runtime rt(workers);
  caf::scoped_actor self{rt.system()};
  auto ran = std::make_shared<std::atomic<std::int64_t>>(0);
  auto root = rt.system().spawn(fib_actor, caf::actor{self}, true, ran);
  std::int64_t value = 0;
  savina::stopwatch clock;
  self->send(root, work_atom::value, n);
  self->receive([&](result_atom, std::int64_t, std::int64_t v) { value = v; });
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  const auto expected = savina::fibonacci_number(n);
  const auto actors = savina::fibonacci_actors(n);
  savina::check(value == expected, "fib(" + std::to_string(n) + ") = " + std::to_string(value) +
                                       ", expected " + std::to_string(expected));
  savina::check(ran->load() == actors, std::to_string(ran->load()) + " actors ran, " +
                                           std::to_string(actors) + " were created");
  m.items = static_cast<std::uint64_t>(actors);
  m.messages = static_cast<std::uint64_t>(2 * actors);
  return m;
}

}  // namespace volley::caf_peer
