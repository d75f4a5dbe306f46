// volley/engine/context.hpp — what a handler can do besides touching its state.
//
// A handler may take a `context&` as its last parameter:
//
//     void on(const ping& p, volley::context& ctx) {
//       ctx.sender().tell(pong{p.n}, ctx);   // reply, naming ourselves as sender
//       if (p.n == 0) ctx.stop();            // stop after this message
//     }
//
// A context is valid only during the call it was passed to; do not keep it.
#pragma once

#include <chrono>
#include <cstddef>
#include <exception>
#include <stdexcept>
#include <string>

#include <volley/engine/fwd.hpp>

namespace volley {

/// An ask timeout meaning "no deadline" (CAF's `infinite`): no timer is
/// armed, so the ask costs no timer-service work. It still ends with an
/// error if the request is dropped (a stopped or stopping target, a full
/// mailbox, a reply handle dropped unanswered); a target that keeps the
/// request and never answers keeps the asker waiting.
inline constexpr std::chrono::nanoseconds no_deadline = std::chrono::nanoseconds::max();

struct props;
template <class R>
class reply_handle;

/// Thrown by context::stash() when the stash is full.
class stash_overflow : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class context {
 public:
  /// This actor, untyped. (`self_as<A>()` gives the typed ref.)
  any_ref self() const;
  template <class A>
  actor_ref<A> self_as() const;

  /// The sender of the message being handled, or an empty ref when it was
  /// sent without one (a tell from outside any actor, or without `ctx`).
  any_ref sender() const;

  /// Stop this actor once the current message is handled; the messages
  /// still queued become dead letters. Children are stopped first.
  void stop();

  /// Spawn a child of this actor (defined in system.hpp).
  template <class A, class... Args>
  actor_ref<A> spawn(Args&&... args);
  template <class A, class... Args>
  actor_ref<A> spawn(props p, Args&&... args);

  /// Watch `target`: when it stops, this actor gets one volley::terminated
  /// (handle it with `on(const volley::terminated&)`). Watching an actor
  /// that has already stopped delivers it at once. Watching twice is once.
  void watch(const any_ref& target);
  /// Stop watching; a terminated already queued for `target` is dropped.
  void unwatch(const any_ref& target);

  volley::system& system() const;

  // -- stash ------------------------------------------------------------------

  /// Keep the message being handled for later (it is not handled now). The
  /// stash holds at most `stash_capacity()` messages (default 1000);
  /// stashing one more throws volley::stash_overflow — the actor fails.
  /// Stashed messages left when the actor stops become dead letters
  /// (reason: stashed_on_stop).
  void stash();
  /// Put every stashed message back in front of the mailbox, oldest first:
  /// they are handled before anything still queued.
  void unstash_all();
  std::size_t stash_size() const;
  void set_stash_capacity(std::size_t n);

  // -- ask from inside an actor --------------------------------------------------

  /// Ask `target`; when the reply (or the timeout, as errc::timeout) comes,
  /// `continuation(result<R>)` — or `continuation(result<R>, context&)` —
  /// runs *as a message of this actor*, so it may touch the actor's state.
  /// Never blocks. If this actor has stopped by then, the reply is a dead
  /// letter. `timeout` may be volley::no_deadline. Defined in
  /// ask_from_actor.hpp.
  template <class A, class M, class Rep, class Period, class F>
  void ask(const actor_ref<A>& target, M&& m, std::chrono::duration<Rep, Period> timeout,
           F&& continuation);

  /// The coroutine form: inside a handler that returns volley::task,
  ///     result<R> r = co_await ctx.ask(target, m, 1s);
  /// While the coroutine waits, this actor's other user messages wait too;
  /// system messages (stop, terminated, supervision) are still handled, and
  /// stopping the actor destroys the waiting coroutine.
  template <class A, class M, class Rep, class Period>
  auto ask(const actor_ref<A>& target, M&& m, std::chrono::duration<Rep, Period> timeout);

  // -- replies that can wait (reply.hpp) ------------------------------------------

  /// Take the reply of the ask being handled, to complete later (from here,
  /// another actor, any thread): `reply.ok(v)` or `reply.fail(error)`. The
  /// handler returns volley::deferred<R>; R must be that ask's reply type.
  /// In a handler of a tell the handle has no asker. Throws
  /// std::logic_error outside a handler, for a mismatched R, or when the
  /// reply was already taken. Defined in reply.hpp.
  template <class R>
  reply_handle<R> reply_later();

  /// This actor's path ("/user/parent/child").
  std::string path() const;

  // -- engine side ----------------------------------------------------------

  explicit context(detail::cell_base* self) noexcept : cell_(self) {}
  detail::cell_base* cell() const noexcept { return cell_; }
  void set_current(detail::envelope* e) noexcept { current_ = e; }
  detail::envelope* current() const noexcept { return current_; }
  /// Whether this activation holds a count on the cell (see cell.hpp).
  bool& holds_ref() noexcept { return holds_ref_; }
  bool stashed() const noexcept { return stashed_; }
  void clear_stashed() noexcept { stashed_ = false; }
  /// A coroutine context: where the waiting frame keeps its exception.
  std::exception_ptr*& coroutine_error() noexcept { return coro_error_; }

 private:
  detail::cell_base* cell_;
  detail::envelope* current_ = nullptr;
  bool holds_ref_ = false;
  bool stashed_ = false;
  std::exception_ptr* coro_error_ = nullptr;
};

}  // namespace volley
