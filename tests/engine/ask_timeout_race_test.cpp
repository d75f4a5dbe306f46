// Replies racing their asks' timeouts, on a threaded system: every ask
// completes exactly once (a reply or errc::timeout), and every reply that
// loses the race is a `reply_undeliverable` dead letter. The replies come
// from workers, the timeouts from the timer thread, and the cancels of the
// timeouts that lose from workers: the continuation held in the request
// (ask_from_actor.hpp, continued_ask) and the timer's hand-off
// (timer_service.hpp) are what TSan watches here.
//
// The same race on the request and its timer alone (ask.hpp's ask_state and
// ask_timeout on a real timer_service, replies from plain threads), where
// the test can put a known-bad status word in the request's place: one
// whose claim lets a late completer win too, so a reply after the timeout
// also "completes" the ask. The check that the whole-system case makes (a reply that loses
// is reported as lost: here, complete() returns false) must catch it; a
// race test that has never failed proves nothing. (The status word's own
// protocol is checked schedule by schedule in
// tests/checker/ask_status_checker_test.cpp.)
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <thread>
#include <vector>

#include <volley/engine/ask.hpp>

#include "../../engine/src/timer_service.hpp"
#include "engine_test_support.hpp"

using namespace std::chrono_literals;
using volley::dead_letter_reason;
using volley::errc;
using volley::test::patience;
using volley::test::scaled;
using volley::test::slow_echo;
using volley::test::wait_until;
using volley::test::work;

namespace {

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

// -- the request and its timer alone, with a known-bad variant -------------------------

namespace {

using volley::detail::ask_status;

/// Known-bad: a completion that comes after another claims the ask too, so a
/// reply after the timeout (or the timeout after a reply) completes it
/// again. It lets the first completer finish (and its continuation read the
/// value) before it goes on: two writers at once would crash the test (the
/// request's timer released twice, the value written twice) instead of
/// failing the check that this variant is here to meet.
struct late_claim_wins : ask_status {
  bool claim() noexcept {
    if (ask_status::claim()) return true;
    while (!is_done()) std::this_thread::yield();
    std::this_thread::sleep_for(20us);
    return true;
  }
};

/// The product's synchronisation (ask.hpp's ask_sync) with `Status` as the
/// request's status word.
template <class Status>
struct with_status : volley::detail::ask_sync {
  using status = Status;
};

/// What one round saw, per request.
struct round_tally {
  explicit round_tally(std::size_t n) : callbacks(n), callback_saw_reply(n), reply_won(n) {}
  std::vector<std::atomic<int>> callbacks;
  std::vector<std::atomic<bool>> callback_saw_reply;
  std::vector<std::atomic<bool>> reply_won;  // the replier's complete() returned true
  std::atomic<std::size_t> completed{0};
  std::atomic<std::size_t> destroyed{0};
};

template <class Status>
class raced_request final : public volley::detail::ask_state<int, with_status<Status>> {
 public:
  raced_request(round_tally* t, std::size_t i) : tally_(t), index_(i) {}
  ~raced_request() override { tally_->destroyed.fetch_add(1, std::memory_order_release); }
  void arm() { this->arm_callback(); }

 private:
  void run_callback() override {
    volley::result<int> r = this->take_result();
    tally_->callback_saw_reply[index_] = r.ok() && r.value() == static_cast<int>(index_);
    tally_->callbacks[index_].fetch_add(1, std::memory_order_relaxed);
    tally_->completed.fetch_add(1, std::memory_order_release);
  }
  round_tally* tally_;
  std::size_t index_;
};

struct round_result {
  std::size_t replies = 0;                  // requests the reply won
  std::size_t not_once = 0;                 // requests whose continuation ran other than once
  std::size_t lost_reply_not_reported = 0;  // complete() said true, the asker saw no reply
};

/// `n` requests, each with a 1 ms timeout, answered by two threads at ~2 µs
/// a request: those answered in the first millisecond or so race nothing,
/// the rest race the timer thread firing the batch. The second thread
/// starts `late_by` after the first: with a few ms, its replies all come
/// after their timeouts on any machine (a fast build answers every request
/// within the millisecond otherwise, and nothing is late).
template <class Status>
round_result race_round(volley::detail::timer_service& svc, std::size_t n,
                        std::chrono::microseconds late_by = 0us) {
  round_tally tally(n);
  std::vector<raced_request<Status>*> requests(n);
  std::vector<volley::detail::ask_timeout<int, with_status<Status>>*> timeouts(n);
  for (std::size_t i = 0; i < n; ++i) {
    requests[i] = new raced_request<Status>(&tally, i);  // the replier's count
    timeouts[i] =
        new volley::detail::ask_timeout<int, with_status<Status>>(requests[i]);  // the timer's
    requests[i]->set_timeout(timeouts[i]);
    requests[i]->arm();
  }
  for (auto* t : timeouts) svc.schedule(t, 1ms);
  auto answer = [&](std::size_t first) {
    if (first == 1) std::this_thread::sleep_for(late_by);
    for (std::size_t i = first; i < n; i += 2) {
      auto until = std::chrono::steady_clock::now() + 2us;
      while (std::chrono::steady_clock::now() < until) {
      }
      tally.reply_won[i] = requests[i]->complete(static_cast<int>(i));
      requests[i]->release();
    }
  };
  std::thread a(answer, 0);
  std::thread b(answer, 1);
  a.join();
  b.join();
  REQUIRE(wait_until([&] { return tally.completed.load(std::memory_order_acquire) >= n; }));
  // Every count goes: the replier's above, the timer's at its cancel or firing.
  REQUIRE(wait_until([&] { return tally.destroyed.load(std::memory_order_acquire) == n; }));
  round_result out;
  for (std::size_t i = 0; i < n; ++i) {
    out.replies += tally.callback_saw_reply[i] ? 1 : 0;
    out.not_once += tally.callbacks[i].load() == 1 ? 0 : 1;
    out.lost_reply_not_reported += tally.reply_won[i] && !tally.callback_saw_reply[i] ? 1 : 0;
  }
  return out;
}

constexpr std::size_t requests_per_round = 1000;

}  // namespace

TEST_CASE("a request's reply and its timeout on the timer thread: one wins and the loser is told",
          "[ask][concurrency]") {
  volley::detail::timer_service svc(nullptr, true);
  std::size_t replies = 0;
  for (int round = 0; round < 5; ++round) {
    round_result r = race_round<ask_status>(svc, requests_per_round);
    replies += r.replies;
    CHECK(r.not_once == 0);
    CHECK(r.lost_reply_not_reported == 0);
  }
  INFO(replies << " replies, " << 5 * requests_per_round - replies << " timeouts");
  SUCCEED();
}

// Known-bad: TSan would report the second winner's write of the value (the
// race this variant lets in, though serialised here by a sleep, not by a
// happens-before), so the variant runs in the other builds only.
#if !defined(VOLLEY_TEST_TSAN)
TEST_CASE("known-bad: a late completion that also claims the ask is caught by the same check",
          "[ask]") {
  volley::detail::timer_service svc(nullptr, true);
  std::size_t caught = 0;
  int rounds = 0;
  // Caught in the first round: half the replies come 5 ms late, after their
  // timeouts; the rounds only guard against a timer thread held off for
  // longer than that.
  while (caught == 0 && rounds < 20) {
    caught += race_round<late_claim_wins>(svc, requests_per_round, 5ms).lost_reply_not_reported;
    ++rounds;
  }
  INFO(rounds << " rounds");
  CHECK(caught > 0);
}
#endif
