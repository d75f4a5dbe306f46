// Replies racing their asks' timeouts, on a threaded system: every ask
// completes exactly once (a reply or errc::timeout), and every reply that
// loses the race is a `reply_undeliverable` dead letter. The replies come
// from workers, the timeouts from the timer thread, and the cancels of the
// timeouts that lose from workers: the continuation held in the request
// (ask_from_actor.hpp, continued_ask) and the timer's hand-off
// (timer_service.hpp) are what TSan watches here.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <thread>
#include <vector>

#include "engine_test_support.hpp"

using namespace std::chrono_literals;
using volley::dead_letter_reason;
using volley::errc;
using volley::test::patience;
using volley::test::scaled;
using volley::test::wait_until;

namespace {

struct work {
  int index;
};
/// Answers after a few µs of work: a queue of requests drains over
/// milliseconds, so some answers come before the 1 ms timeout and some after.
struct slow_echo {
  int on(const work& w) {
    auto until = std::chrono::steady_clock::now() + 3us;
    while (std::chrono::steady_clock::now() < until) {
    }
    return w.index;
  }
};

/// What every asker saw, per ask: 1 reply or 1 timeout, nothing else.
struct outcomes {
  explicit outcomes(std::size_t asks) : seen(asks) {}
  std::vector<std::atomic<int>> seen;  // completions per ask
  std::atomic<std::size_t> replies{0};
  std::atomic<std::size_t> timeouts{0};
  std::atomic<std::size_t> wrong{0};  // another error, or the wrong value
  std::atomic<std::size_t> done{0};
};

struct fan_out {
  int first;
  int count;
};

struct asker {
  asker(volley::actor_ref<slow_echo> e, outcomes* o) : echo_(std::move(e)), out_(o) {}
  void on(const fan_out& f, volley::context& ctx) {
    for (int i = f.first; i < f.first + f.count; ++i) {
      ctx.ask(echo_, work{i}, 1ms, [out = out_, i](volley::result<int> r) {
        out->seen[static_cast<std::size_t>(i)].fetch_add(1, std::memory_order_relaxed);
        if (r && r.value() == i) {
          out->replies.fetch_add(1, std::memory_order_relaxed);
        } else if (!r && r.err().code == errc::timeout) {
          out->timeouts.fetch_add(1, std::memory_order_relaxed);
        } else {
          out->wrong.fetch_add(1, std::memory_order_relaxed);
        }
        out->done.fetch_add(1, std::memory_order_release);
      });
    }
  }
  volley::actor_ref<slow_echo> echo_;
  outcomes* out_;
};

}  // namespace

TEST_CASE("asks racing their timeouts complete once each; every late reply is a dead letter",
          "[ask][concurrency]") {
  constexpr int askers = 8;
  const int per_asker = static_cast<int>(std::max<std::size_t>(500, scaled(4000)));
  const std::size_t asks = static_cast<std::size_t>(askers) * static_cast<std::size_t>(per_asker);
  outcomes out(asks);
  volley::config cfg = volley::test::two_workers();
  cfg.workers = 4;  // oversubscribed on a 2-core machine: more interleavings
  volley::system sys(cfg);
  for (int a = 0; a < askers; ++a) {
    auto ref = sys.spawn<asker>(sys.spawn<slow_echo>(), &out);
    ref.tell(fan_out{a * per_asker, per_asker});
  }
  REQUIRE(wait_until([&] { return out.done.load(std::memory_order_acquire) == asks; }));
  // Each timed-out request is still answered by its echo: wait for all of those.
  const std::size_t timeouts = out.timeouts.load();
  REQUIRE(wait_until([&] {
    return sys.dead_letters().count(dead_letter_reason::reply_undeliverable) == timeouts;
  }));
  std::this_thread::sleep_for(20ms);  // a duplicate completion would come now
  std::size_t not_once = 0;
  for (auto& s : out.seen) not_once += s.load() == 1 ? 0 : 1;
  INFO(out.replies.load() << " replies, " << timeouts << " timeouts of " << asks);
  CHECK(not_once == 0);
  CHECK(out.wrong.load() == 0);
  CHECK(out.replies.load() + timeouts == asks);
  CHECK(sys.dead_letters().count(dead_letter_reason::reply_undeliverable) == timeouts);
  CHECK(sys.dead_letters().count() == timeouts);
}
