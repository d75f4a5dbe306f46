// volley/engine/detail/first_reply.hpp — one asker, several asked: the first answer wins.
//
// What scatter-gather and tail-chopping groups share: the checks a group
// makes when it is made (check_group) and on each ask's message type
// (check_group_ask), and the collection of replies. The asker holds a
// future on `answer` (an ordinary ask_state with its own timeout timer). Each
// routee is asked through a request of its own, whose completion (then())
// lands in on_reply():
//   * a value completes `answer` if nothing has yet (ask_state's first
//     completion wins); a value after that is counted in `late` and dropped;
//   * an error is kept; when every request sent has failed and no more will
//     be sent, the last error completes `answer` (one stopped routee does
//     not fail the ask while others may still answer);
//   * the timeout completes `answer` with errc::timeout; replies after it
//     are counted as late;
//   * a request that cannot be sent (its copy or the send throws, on the
//     asking thread or on a tail-chopping timer) fails `answer` at once
//     with errc::handler_failed: it was counted, so without that the ask
//     could end only at its deadline;
//   * shutdown() drops the pending timers (system.cpp, step 3): the
//     deadline timer, dropped unfired, completes `answer` with
//     errc::recipient_stopped, so an ask in flight at shutdown fails then
//     even when no request of it does (a tail-chopping ask whose next chop
//     was pending, a routee holding its reply handle past the shutdown).
//     The deadline is a plain ask's timeout (ask_timeout, set on `answer`)
//     with the group's reason at shutdown: whatever completes `answer`
//     first cancels it, so a group answered early leaves nothing in the
//     timer wheel, and the answer's state is freed once the asker and the
//     requests are done with it, not when `within` has passed.
// Thread-safety: on_reply runs on whichever worker completes a request;
// `answer` is itself thread-safe, and the rest are atomics. The object lives
// as long as a request or a timer refers to it (shared_ptr).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <volley/engine/actor_ref.hpp>
#include <volley/engine/ask.hpp>
#include <volley/engine/detail/cell.hpp>
#include <volley/engine/detail/thread_safety.hpp>
#include <volley/engine/detail/timer.hpp>

namespace volley::detail {

/// A group's routees and durations, checked once when the group is made:
/// null refs are dropped; no routee left, or a duration (the ask's `within`,
/// a tail-chopping `interval`) that is not positive, is std::invalid_argument
/// naming the group (`group`: "a scatter-gather group").
template <class A>
void check_group(const char* group, std::vector<actor_ref<A>>& routees,
                 std::initializer_list<std::chrono::nanoseconds> durations) {
  std::erase_if(routees, [](const actor_ref<A>& r) { return !r; });
  if (routees.empty()) {
    throw std::invalid_argument(std::string("volley: ") + group + " needs at least one routee");
  }
  for (std::chrono::nanoseconds d : durations) {
    if (d <= std::chrono::nanoseconds::zero()) {
      throw std::invalid_argument(
          std::string("volley: ") + group +
          (durations.size() == 1 ? " needs a positive timeout" : " needs positive durations"));
    }
  }
}

/// The message type of a group ask: one readable error for each mistake.
template <class A, class T>
constexpr void check_group_ask() noexcept {
  static_assert(has_handler<A, T>,
                "volley: the routees have no on() handler for the asked message type");
  static_assert(std::is_copy_constructible_v<T>,
                "volley: a group ask copies the message to each routee it asks");
}

template <class R>
class first_reply {
 public:
  /// `late`: the group's counter of dropped replies.
  explicit first_reply(std::shared_ptr<std::atomic<std::uint64_t>> late) : late_(std::move(late)) {
    answer_->add_ref();  // ours; the other count is the future's
  }
  first_reply(const first_reply&) = delete;
  first_reply& operator=(const first_reply&) = delete;
  ~first_reply() { answer_->release(); }

  /// The future the asker gets (call once, before anything is sent).
  future<R> take_future() noexcept { return future<R>(answer_); }

  /// Arm the deadline of the whole ask (before the first request is sent).
  void arm_timeout(system_core* core, std::chrono::nanoseconds within) {
    auto* t = new ask_timeout<R>(answer_);
    t->core = core;
    // Dropped unfired at shutdown: the group's reason, not a plain ask's.
    t->on_dropped = [](timer_base* b) noexcept {
      try {
        static_cast<ask_timeout<R>*>(b)->state->finish(
            error_or_bare(errc::recipient_stopped,
                          "the actor system shut down before a routee answered"),
            true);
      } catch (...) {  // a then() continuation threw: nobody is left to tell
      }
    };
    // The answer's count on the timer: its first completion cancels it.
    answer_->set_timeout(t);
    timer_schedule(core, t, within);
  }

  /// Ask `to` one request (a copy of `m`); its reply lands in on_reply().
  /// `keep_alive`, this object or its owner, is held until then.
  /// If the copy, the send or then() throws, the whole ask fails at once
  /// with errc::handler_failed (the asker would otherwise wait for the
  /// deadline: the request counted here never answers) and the exception
  /// goes on to the caller, as a throwing send does on every ask path.
  template <class T, class A, class Owner>
  void ask(const actor_ref<A>& to, const T& m, std::shared_ptr<Owner> keep_alive) {
    expect_one();
    try {
      send_ask<T, R>(to.cell(), &invoke_ask<A, T>, T(m))
          .then([this, keep = std::move(keep_alive)](result<R> reply) {
            on_reply(std::move(reply));
          });
    } catch (...) {
      answer_->complete(current_exception_error(errc::handler_failed,
                                                "a request of the group ask could not be sent"));
      throw;
    }
  }

  /// One more request is about to be sent.
  void expect_one() noexcept { pending_.fetch_add(1, std::memory_order_relaxed); }
  /// No request will be sent after those counted so far.
  /// seq_cst here and in on_reply: a store then a load on each side
  /// (all_sent_ / pending_), so at least one of them sees the other and the
  /// failure is settled (twice is harmless: the second completion is a no-op).
  void last_sent() {
    all_sent_.store(true, std::memory_order_seq_cst);
    if (pending_.load(std::memory_order_seq_cst) == 0) settle_failure();
  }

  void on_reply(result<R> r) {
    if (r.ok()) {
      if (!answer_->complete(std::move(r))) late_->fetch_add(1, std::memory_order_relaxed);
    } else {
      detail::lock_guard lock(mu_);
      last_error_ = r.err();
    }
    if (pending_.fetch_sub(1, std::memory_order_seq_cst) == 1 &&
        all_sent_.load(std::memory_order_seq_cst)) {
      settle_failure();
    }
  }

  /// A snapshot: answered, timed out, or abandoned by the asker.
  bool settled() const noexcept { return answer_->claimed(); }

 private:
  void settle_failure() {
    error e;
    {
      detail::lock_guard lock(mu_);
      e = last_error_;
    }
    answer_->complete(std::move(e));  // a no-op when a value (or the timeout) came first
  }

  future_state<R>* answer_ = new future_state<R>();
  std::shared_ptr<std::atomic<std::uint64_t>> late_;
  std::atomic<std::size_t> pending_{0};
  std::atomic<bool> all_sent_{false};
  detail::mutex mu_;  ///< replies only, never a send
  error last_error_ VOLLEY_GUARDED_BY(mu_){errc::unhandled, "the group has no routees"};
};

}  // namespace volley::detail
