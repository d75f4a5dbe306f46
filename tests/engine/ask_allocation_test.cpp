// How many heap allocations an ask from inside an actor costs its asker
// (ask_from_actor.hpp): none. The request with its continuation inline and
// the envelopes come from the envelope pool (ask.hpp, pooled_request), and
// an ask's timeout node from the timer pool, so after a warm-up an ask costs
// no operator new. Before continued_ask and resumed_ask, a continuation ask
// allocated three times (the request, a shared_ptr to the continuation,
// std::function's copy of the lambda) and a coroutine ask twice; before
// pooled_request, once (the request).
//
// Counted by replacing the global operator new in this executable: only
// allocations on the thread that runs the actors, between the first ask and
// the last completion, on the deterministic dispatcher (so the asker, the
// echo and every pool run on that one thread). Each burst also makes one
// allocation of its own on purpose (a `new int`), so that a counter that
// counts nothing fails the check too.
#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdlib>
#include <new>

#include "engine_test_support.hpp"

namespace {

thread_local bool counting = false;
thread_local std::size_t allocations = 0;

}  // namespace

// Every unaligned form, new and delete alike, so that ASan sees matching
// pairs (the aligned forms keep the library's own pair). The deletes stay
// out of line: inlined, GCC 12 sees their free() meet a pointer from a
// new-expression and warns (-Wmismatched-new-delete), although the pair is
// this file's own malloc and free.
void* operator new(std::size_t n) {
  if (counting) ++allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  return operator new(n);
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  if (counting) ++allocations;
  return std::malloc(n == 0 ? 1 : n);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept {
  return operator new(n, t);
}
[[gnu::noinline]] void operator delete(void* p) noexcept {
  std::free(p);
}
[[gnu::noinline]] void operator delete[](void* p) noexcept {
  std::free(p);
}
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
[[gnu::noinline]] void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
[[gnu::noinline]] void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
[[gnu::noinline]] void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}

namespace {

using volley::test::deterministic;

struct ping {
  int n;
};
struct echo {
  int on(const ping& p) { return p.n; }
};

struct burst {
  int asks;
};

/// What an asker saw; read by the test between runs, on the same thread.
struct burst_log {
  int replies = 0;
  std::size_t counted = 0;
};

constexpr int asks_per_burst = 64;
// Allocations a burst may make beyond its own one: a pool growing, a vector
// in the scheduler. Far below the 1 per ask of a request from the heap.
constexpr std::size_t slack = 16;

/// The burst's own allocation, counted like any other (kept through a
/// volatile, so that the compiler cannot elide the pair).
int* volatile kept_one = nullptr;
void allocate_one() {
  kept_one = new int(1);
  delete kept_one;
}

/// Asks `asks` times with continuations (no deadline: the timer node is
/// counted by the timer tests, not here), counting from the first ask to
/// the last reply.
struct continuation_asker {
  continuation_asker(volley::actor_ref<echo> e, burst_log* log) : echo_(std::move(e)), log_(log) {}
  void on(const burst& b, volley::context& ctx) {
    left_ = b.asks;
    allocations = 0;
    counting = true;
    allocate_one();
    for (int i = 0; i < b.asks; ++i) {
      ctx.ask(echo_, ping{i}, volley::no_deadline, [this](volley::result<int> r) {
        if (r) ++log_->replies;
        if (--left_ == 0) {
          counting = false;
          log_->counted = allocations;
        }
      });
    }
  }
  volley::actor_ref<echo> echo_;
  burst_log* log_;
  int left_ = 0;
};

/// The same as one coroutine awaiting its asks in turn.
struct coroutine_asker {
  coroutine_asker(volley::actor_ref<echo> e, burst_log* log) : echo_(std::move(e)), log_(log) {}
  volley::task on(burst b, volley::context& ctx) {
    volley::context own = ctx;  // ctx dangles after the first co_await
    allocations = 0;
    counting = true;
    allocate_one();
    for (int i = 0; i < b.asks; ++i) {
      volley::result<int> r = co_await own.ask(echo_, ping{i}, volley::no_deadline);
      if (r) ++log_->replies;
    }
    counting = false;
    log_->counted = allocations;
  }
  volley::actor_ref<echo> echo_;
  burst_log* log_;
};

/// Runs a warm-up burst, then a counted one; returns the counted burst's
/// allocations and checks every ask was answered.
template <class Asker>
std::size_t allocations_of_a_burst() {
  volley::system sys(deterministic());
  burst_log log;
  auto asker = sys.spawn<Asker>(sys.spawn<echo>(), &log);
  asker.tell(burst{asks_per_burst});
  sys.run_until_idle();
  asker.tell(burst{asks_per_burst});
  sys.run_until_idle();
  REQUIRE(log.replies == 2 * asks_per_burst);
  return log.counted;
}

}  // namespace

TEST_CASE("an ask with a continuation allocates nothing from the heap", "[ask]") {
  std::size_t n = allocations_of_a_burst<continuation_asker>();
  INFO(n << " allocations for " << asks_per_burst << " asks");
  CHECK(n >= 1);  // the burst's own allocation is counted: the counter works
  CHECK(n <= 1 + slack);
}

TEST_CASE("an awaited ask allocates nothing from the heap", "[ask]") {
  std::size_t n = allocations_of_a_burst<coroutine_asker>();
  INFO(n << " allocations for " << asks_per_burst << " asks");
  CHECK(n >= 1);
  CHECK(n <= 1 + slack);
}

TEST_CASE("an ask's timeout completes it without allocating (the timer thread's path)", "[ask]") {
  // The timer thread runs exactly this callback; here it runs on the test
  // thread, so the counter sees it. Before, its error text (27 characters)
  // took one allocation there, and a bad_alloc was std::terminate.
  auto* state = new volley::detail::future_state<int>();
  volley::future<int> f(state);
  auto* t = new volley::detail::ask_timeout<int>(state);
  allocations = 0;
  counting = true;
  t->callback(t);
  counting = false;
  t->destroy(t);  // the count it held on the request
  CHECK(allocations == 0);
  volley::result<int> r = f.get();
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == volley::errc::timeout);
  CHECK_FALSE(r.err().message.empty());
}
