// volley/engine/supervision.hpp — what happens when a handler throws.
//
// A handler (or pre_start, or a coroutine handler) that throws fails its
// actor. The actor stops taking user messages and its parent decides, with
// the strategy the parent declares:
//
//     struct manager {
//       volley::supervisor_strategy supervisor_strategy() const {
//         return volley::supervisor_strategy::one_for_one()
//             .decide([](const std::exception_ptr& e) {
//               try { std::rethrow_exception(e); }
//               catch (const bad_input&) { return volley::directive::resume; }
//               catch (...) { return volley::directive::restart; }
//             })
//             .at_most(3, std::chrono::seconds(10))     // then stop (or escalate)
//             .backoff(10ms, 1s);                        // exponential, between restarts
//       }
//     };
//
// Directives: resume (keep state, go on with the next message), restart
// (pre_restart on the old instance, a fresh instance from the spawn
// arguments, post_restart; the mailbox is kept; children are stopped),
// stop, escalate (the parent fails with the same exception, and its own
// parent decides). one_for_one applies the directive to the failed child,
// all_for_one to all children.
//
// The restart hooks, each optional (the defaults: post_stop on the old
// instance, pre_start on the new one):
//
//     void pre_restart(const std::exception_ptr& why);                  // or
//     void pre_restart(const std::exception_ptr& why, volley::context& ctx);
//     void post_restart(const std::exception_ptr& why);                 // or
//     void post_restart(const std::exception_ptr& why, volley::context& ctx);
//
// A member named pre_restart or post_restart with other parameters (none,
// say) does not compile: it would never be called, so a static_assert says
// which forms are meant.
//
// The default strategy — for actors that declare none, and for the /user
// guardian that supervises top-level actors — is Akka Typed's: stop the
// failed child. A failure is always logged once with the actor's path, where
// it failed and what() of the exception.
#pragma once

#include <chrono>
#include <exception>
#include <functional>

#include <volley/engine/detail/handler.hpp>

namespace volley {

enum class directive { resume, restart, stop, escalate };

constexpr const char* to_string(directive d) noexcept {
  switch (d) {
    case directive::resume:
      return "resume";
    case directive::restart:
      return "restart";
    case directive::stop:
      return "stop";
    case directive::escalate:
      return "escalate";
  }
  return "unknown";
}

class supervisor_strategy {
 public:
  enum class scope { one_for_one, all_for_one };

  static supervisor_strategy one_for_one() { return supervisor_strategy(scope::one_for_one); }
  static supervisor_strategy all_for_one() { return supervisor_strategy(scope::all_for_one); }
  /// The default: stop the failed child.
  static supervisor_strategy stopping() {
    return one_for_one().decide([](const std::exception_ptr&) { return directive::stop; });
  }

  /// Choose the directive from the exception (default: restart).
  supervisor_strategy& decide(std::function<directive(const std::exception_ptr&)> f) {
    decider_ = std::move(f);
    return *this;
  }
  /// Restart a child at most `n` times within `window`; past that the child
  /// is stopped (or, with escalate_when_exhausted(), the failure escalates).
  supervisor_strategy& at_most(unsigned n, std::chrono::milliseconds window) {
    max_restarts_ = n;
    window_ = window;
    return *this;
  }
  supervisor_strategy& escalate_when_exhausted(bool on = true) {
    escalate_when_exhausted_ = on;
    return *this;
  }
  /// Wait before each restart: `min`, doubling (`factor`) per restart within
  /// the window, at most `max`. Zero (the default) restarts at once.
  supervisor_strategy& backoff(std::chrono::milliseconds min, std::chrono::milliseconds max,
                               double factor = 2.0) {
    backoff_min_ = min;
    backoff_max_ = max;
    backoff_factor_ = factor;
    return *this;
  }

  scope kind() const noexcept { return scope_; }
  directive decide_for(const std::exception_ptr& e) const {
    return decider_ ? decider_(e) : directive::restart;
  }
  unsigned max_restarts() const noexcept { return max_restarts_; }
  std::chrono::milliseconds window() const noexcept { return window_; }
  bool escalates_when_exhausted() const noexcept { return escalate_when_exhausted_; }
  std::chrono::milliseconds backoff_for(unsigned restart_number) const noexcept;

  supervisor_strategy() = default;

 private:
  explicit supervisor_strategy(scope s) : scope_(s) {}

  scope scope_ = scope::one_for_one;
  std::function<directive(const std::exception_ptr&)> decider_;
  unsigned max_restarts_ = 10;
  std::chrono::milliseconds window_{60'000};
  bool escalate_when_exhausted_ = false;
  std::chrono::milliseconds backoff_min_{0};
  std::chrono::milliseconds backoff_max_{0};
  double backoff_factor_ = 2.0;
};

namespace detail {
template <class A>
void strategy_of(cell_base* c, void* out) {
  if constexpr (has_strategy<A>) {
    *static_cast<supervisor_strategy*>(out) = actor_of<A>(c).supervisor_strategy();
  }
}
}  // namespace detail

}  // namespace volley
