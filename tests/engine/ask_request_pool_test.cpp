// An ask's request lives in the envelope pool (ask.hpp, pooled_request):
// made on the asker's thread, freed on whichever thread drops its last count
// (the asker's, the replier's, the timer's), once, and only after everyone
// that holds a count is done with it.
//
// What breaks here when that goes wrong:
//   * a request that skips the pool: its block is not the one the pool hands
//     out next (the first case);
//   * a request freed too early (a count dropped once too often) or twice:
//     ASan reports the use of the poisoned block, or the second free
//     (pool_poisoning.hpp, pool_check_in_use), in the stress case below,
//     where replies, timeouts and coroutine resumes race on two workers and
//     the timer thread. Without ASan that case still checks that every ask
//     completed exactly once.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <vector>

#include <volley/engine/ask.hpp>

#include "../sanitizers.hpp"
#include "engine_test_support.hpp"

#if defined(VOLLEY_TEST_ASAN)
#include <sanitizer/asan_interface.h>
#endif

using namespace std::chrono_literals;
using volley::test::scaled;
using volley::test::work;
using echo = volley::test::slow_echo;  // some answers before the deadline, some after
using volley::test::wait_until;

TEST_CASE("a request's block comes from the envelope pool and goes back to it", "[ask]") {
  using state = volley::detail::future_state<int>;
  auto* s = new state();
  void* block = s;
  s->release();  // the last count: the block goes back to this thread's magazine
#if defined(VOLLEY_TEST_ASAN)
  CHECK(__asan_address_is_poisoned(block));  // a use after free would be reported
#endif
  // The magazine is LIFO: the next block of that class is the same one.
  void* again = volley::detail::envelope_alloc(sizeof(state));
  CHECK(again == block);
  volley::detail::envelope_free(again, sizeof(state));

  auto* r = new volley::detail::resumed_ask<int>();
  block = r;
  r->release();
  again = volley::detail::envelope_alloc(sizeof(volley::detail::resumed_ask<int>));
  CHECK(again == block);
  volley::detail::envelope_free(again, sizeof(volley::detail::resumed_ask<int>));
}

namespace {

struct tally {
  explicit tally(std::size_t asks) : seen(asks) {}
  std::vector<std::atomic<int>> seen;  // completions per ask
  std::atomic<std::size_t> done{0};
};

struct go {
  int first;
  int count;
};

/// Asks with continuations, deadlines of 0 (none), 100 µs or 1 ms in turn.
struct continuation_asker {
  continuation_asker(volley::actor_ref<echo> e, tally* t) : echo_(std::move(e)), t_(t) {}
  void on(const go& g, volley::context& ctx) {
    for (int i = g.first; i < g.first + g.count; ++i) {
      auto complete = [t = t_, i](volley::result<int> r) {
        if (r && r.value() != i) t->seen[i].fetch_add(100);  // a foreign reply
        t->seen[i].fetch_add(1);
        t->done.fetch_add(1, std::memory_order_release);
      };
      switch (i % 3) {
        case 0:
          ctx.ask(echo_, work{i}, volley::no_deadline, complete);
          break;
        case 1:
          ctx.ask(echo_, work{i}, 100us, complete);
          break;
        default:
          ctx.ask(echo_, work{i}, 1ms, complete);
          break;
      }
    }
  }
  volley::actor_ref<echo> echo_;
  tally* t_;
};

/// The same asks awaited by a coroutine, one after another.
struct coroutine_asker {
  coroutine_asker(volley::actor_ref<echo> e, tally* t) : echo_(std::move(e)), t_(t) {}
  volley::task on(go g, volley::context& ctx) {
    volley::context own = ctx;  // ctx dangles after the first co_await
    for (int i = g.first; i < g.first + g.count; ++i) {
      auto deadline = i % 2 == 0 ? std::chrono::microseconds(50) : std::chrono::microseconds(5000);
      volley::result<int> r = co_await own.ask(echo_, work{i}, deadline);
      if (r && r.value() != i) t_->seen[i].fetch_add(100);
      t_->seen[i].fetch_add(1);
      t_->done.fetch_add(1, std::memory_order_release);
    }
  }
  volley::actor_ref<echo> echo_;
  tally* t_;
};

}  // namespace

TEST_CASE("pooled requests racing replies, timeouts and resumes are each completed once",
          "[ask][concurrency]") {
  const int per_asker = static_cast<int>(scaled(2000));
  constexpr int askers = 4;  // two with continuations, two coroutines
  const std::size_t asks = static_cast<std::size_t>(per_asker) * askers;
  tally t(asks);
  {
    volley::system sys(volley::test::two_workers());
    std::vector<volley::actor_ref<echo>> echoes{sys.spawn<echo>(), sys.spawn<echo>()};
    auto c0 = sys.spawn<continuation_asker>(echoes[0], &t);
    auto c1 = sys.spawn<continuation_asker>(echoes[1], &t);
    auto a0 = sys.spawn<coroutine_asker>(echoes[1], &t);
    auto a1 = sys.spawn<coroutine_asker>(echoes[0], &t);
    c0.tell(go{0, per_asker});
    c1.tell(go{per_asker, per_asker});
    a0.tell(go{2 * per_asker, per_asker});
    a1.tell(go{3 * per_asker, per_asker});
    REQUIRE(wait_until([&] { return t.done.load(std::memory_order_acquire) == asks; }));
  }  // the system stops: late replies and cancelled timers let go of their requests
  std::size_t wrong = 0;
  for (auto& s : t.seen) wrong += s.load() != 1 ? 1 : 0;
  CHECK(wrong == 0);
  CHECK(t.done.load() == asks);
}
