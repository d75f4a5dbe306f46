// Exhaustive small-schedule checks of the ask itself: ask.hpp's ask_state
// — its finish() (claim, timer cancel, value, publish, futex wake or
// continuation), its wait() (announce, futex sleep, deadline) and its count —
// instantiated with a model `Sync` (ask.hpp's ask_sync: the product's) in
// which the status word and the count are model atomics, the futex is a
// model futex and the timeout timer a model timer. A reply, the timeout
// timer and the reader (get(), get(timeout) then then(), or then()) race
// under every schedule within the bound; each schedule checks:
//   * exactly one of the reply and the timeout wins (complete()/finish()
//     return true once);
//   * a blocked get() wakes, with the winner's value; a continuation runs
//     exactly once, with it;
//   * the request and its timer are each freed exactly once, after their
//     last user (ASan sees a use after free; the final check sees a leak);
//   * a timer the reply cancelled never fires, and gives its count on the
//     request back at the cancel.
// tests/checker/ask_status_checker_test.cpp checks the status word alone;
// this runs the real code around it.
//
// The model timer follows timer_service.cpp: the firing is a CAS armed ->
// firing by the timer thread, the cancel an exchange to `cancelled` whose
// winner (it saw `armed`) gives the timer's count on the request back
// (ask_timeout's on_cancelled); two counts on the timer (the service's, the
// request's), the last release frees it and drops the count on the request
// if it still holds one (ask_timeout's destroy).
//
// Known-bad variant: a status word whose claim always succeeds (a completer
// that does not claim): both the reply and the timeout "win", and the
// checker must find a schedule that shows it.
//
// Memory model: sequentially consistent executions (see
// model_scheduler.hpp). The orders beyond SC are ask_status.hpp's
// release/acquire pair and acq_rel RMWs on one word each (the status, the
// counts, the timer state), argued where they are used.
#include <volley/engine/ask.hpp>

#include <cstdint>
#include <memory>
#include <optional>

#include <catch2/catch.hpp>

#include "expect_clean.hpp"

namespace {

using namespace volley::checker;  // the explorer, its checks, model_atomic
using volley::errc;

enum timer_state : int { armed, firing, cancelled };

struct model_request_base;

/// ask_timeout on a model timer (see the file comment).
struct model_timer {
  model_atomic<int> state{armed};
  model_atomic<std::uint32_t> refs{2};    // the service's and the request's
  model_request_base* request = nullptr;  // counted until cancelled or freed
  int* freed = nullptr;
};

/// Each fiber's futex sleep ends at the next wake after it went to sleep.
model_atomic<int> futex_wakes{0};

template <class Status>
struct model_sync {
  using status = Status;
  template <class T>
  using atomic = model_atomic<T>;
  using timer = model_timer;
  using deadline = std::optional<std::chrono::steady_clock::time_point>;

  static bool blocking_refused() noexcept { return false; }
  /// The active wait only delays the announce; the futex is what matters.
  template <class Done>
  static void spin(const void*, deadline, Done) {}
  /// Checks the word and goes to sleep in one step, as FUTEX_WAIT does. A
  /// deadline is taken as passed already: get(timeout) giving up.
  static bool futex_wait(atomic<std::uint32_t>& word, std::uint32_t expected, deadline d) noexcept {
    yield_point();
    if (word.peek() != expected) return true;
    if (d.has_value()) return false;
    int seen = futex_wakes.peek();
    while (futex_wakes.load() == seen) spin_wait();
    return true;
  }
  static void futex_wake(atomic<std::uint32_t>&) noexcept { futex_wakes.fetch_add(1); }
  static void cancel_timer(timer* t) noexcept;
  static void release_timer(timer* t) noexcept;
};

/// The request's count and its end, apart from the status word's type.
struct model_request_base {
  virtual ~model_request_base() = default;
  virtual void release_request() noexcept = 0;
};

template <class Status>
void model_sync<Status>::cancel_timer(timer* t) noexcept {
  if (t->state.exchange(cancelled) != armed) return;      // firing, or fired
  std::exchange(t->request, nullptr)->release_request();  // on_cancelled
}

template <class Status>
void model_sync<Status>::release_timer(timer* t) noexcept {
  if (t->refs.fetch_sub(1) != 1) return;
  if (t->request != nullptr) t->request->release_request();  // destroy
  ++*t->freed;
  delete t;
}

/// What a run saw; lives outside the request, which frees itself.
struct outcome {
  int reply_won = 0;
  int timeout_won = 0;
  int request_freed = 0;
  int timer_freed = 0;
  int callback_runs = 0;
  std::optional<volley::result<int>> read;  // by get() or the continuation
};

template <class Status>
class model_request final : public volley::detail::ask_state<int, model_sync<Status>>,
                            public model_request_base {
 public:
  explicit model_request(outcome* o) : out_(o) {}
  ~model_request() override { ++out_->request_freed; }
  void release_request() noexcept override { this->release(); }
  void then() { this->arm_callback(); }

 private:
  void run_callback() override {
    ++out_->callback_runs;
    out_->read.emplace(this->take_result());
  }
  outcome* out_;
};

enum class reader { get, get_timeout_then_then, then };

/// One ask with a timeout: the reader, the replier (value 7) and the timer
/// thread, each a fiber; the request starts with three counts (the
/// reader's, the replier's, the timer's) and the timer with two.
template <class Status>
std::function<void(execution&)> ask_with_timeout(reader how) {
  return [how](execution& x) {
    auto out = std::make_shared<outcome>();
    auto* req = new model_request<Status>(out.get());
    req->add_ref();  // the replier's
    req->add_ref();  // the timer's
    auto* t = new model_timer();
    t->request = req;
    t->freed = &out->timer_freed;
    req->set_timeout(t);
    x.spawn([req, how, out] {
      if (how == reader::get) {
        out->read.emplace(req->wait(std::nullopt));
      } else {
        if (how == reader::get_timeout_then_then) {
          volley::result<int> r = req->wait(std::chrono::steady_clock::time_point{});
          if (r.ok() || r.err().code != errc::timeout) out->read.emplace(std::move(r));
        }
        if (!out->read.has_value()) req->then();  // as future::then after a give-up
      }
      req->release();
    });
    x.spawn([req, out] {
      if (req->complete(volley::result<int>(7))) ++out->reply_won;
      req->release();
    });
    x.spawn([t, out] {
      int expected = armed;
      if (t->state.compare_exchange_strong(expected, firing)) {  // the timer thread's claim
        auto* r = static_cast<model_request<Status>*>(t->request);
        if (r->finish(volley::detail::timeout_error(), true)) ++out->timeout_won;
      }
      model_sync<Status>::release_timer(t);  // the service's count
    });
    x.at_end([out] {
      check(out->reply_won + out->timeout_won == 1, "not exactly one completion won");
      check(out->request_freed == 1, "the request was not freed exactly once");
      check(out->timer_freed == 1, "the timer was not freed exactly once");
      check(out->read.has_value(), "the reader never got a result");
      if (out->read.has_value()) {
        volley::result<int>& r = *out->read;
        bool saw_reply = r.ok() && r.value() == 7;
        bool saw_timeout = !r.ok() && r.err().code == errc::timeout;
        check(out->reply_won == 1 ? saw_reply : saw_timeout,
              "the reader saw another result than the winner's");
      }
      check(out->callback_runs <= 1, "the continuation ran twice");
    });
  };
}

using model_status = volley::detail::basic_ask_status<model_atomic>;

/// Known-bad: the second completer claims too (a completer that does not
/// claim). ask_state::finish then lets both write, publish and report a win.
struct claim_always : model_status {
  bool claim() noexcept {
    (void)model_status::claim();
    return true;
  }
};

struct reader_case {
  const char* name;
  reader how;
  std::size_t min_schedules;
};

constexpr reader_case reader_cases[] = {
    {"ask_state reply vs timeout vs get()", reader::get, 100},
    {"ask_state reply vs timeout vs get(timeout), then()", reader::get_timeout_then_then, 100},
    {"ask_state reply vs timeout vs then()", reader::then, 100},
};

}  // namespace

TEST_CASE("checker ask_state: reply, timeout and reader race; one wins, all is freed once",
          "[checker][ask]") {
  for (const reader_case& c : reader_cases) {
    SECTION(c.name) {
      check_clean(c.name, bound(3), ask_with_timeout<model_status>(c.how), c.min_schedules);
    }
  }
}

TEST_CASE("checker ask_state: a completer that does not claim is caught",
          "[checker][ask][known_bad]") {
  check_caught("ask_state reply vs timeout vs get() (known-bad: no claim)", bound(3),
               ask_with_timeout<claim_always>(reader::get), "not exactly one completion won");
}
