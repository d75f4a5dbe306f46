// volley/engine/reply.hpp — replies that can wait.
//
// An ask is usually answered by the handler's return value. When the answer
// needs something that comes later (B must ask C before it can answer A),
// a handler has two ways to answer after it returns:
//
//   a reply handle — keep it, move it (to a member, into a message to
//   another actor), complete it once, from any thread:
//
//     volley::deferred<int> on(const quote& q, volley::context& ctx) {
//       auto reply = ctx.reply_later<int>();           // this ask's reply, to answer later
//       ctx.ask(pricer_, price{q.item}, 1s,
//               [reply = std::move(reply)](volley::result<int> p) mutable {
//                 if (p) reply.ok(p.value() * 2); else reply.fail(p.err());
//               });
//       return {};                                      // "the reply comes later"
//     }
//
//   a coroutine that answers with co_return:
//
//     volley::reply_task<int> on(const quote& q, volley::context& ctx) {
//       volley::result<int> p = co_await ctx.ask(pricer_, price{q.item}, 1s);
//       co_return p.value() * 2;                       // a throw answers handler_failed
//     }
//
// The handler's declared reply type (int above) is the ask's reply type:
// `ref.ask(quote{})` gives a future<int>. `deferred<R>` is only a marker
// that says "answered through reply_later<R>()".
//
// Defined outcomes, none of them a hang or an exception at the replier:
//   * completed once: the asker gets the value or the error;
//   * dropped unanswered (the handle destroyed, the coroutine destroyed
//     because its actor stopped, a deferred handler that took no handle):
//     the asker gets errc::broken_promise;
//   * completed after the asker stopped waiting — ctx.ask's timeout fired,
//     or the future was dropped — or completed a second time: a no-op that
//     returns false and is counted as a `reply_undeliverable` dead letter.
//     (A plain-thread get(timeout) that timed out leaves the request open,
//     see ask.hpp: a late reply still lands there.)
//   * reply_later() in a handler of a tell: the handle has no asker; its
//     completion is counted the same way. A reply_task that is told rather
//     than asked drops its co_return value without a count.
//
// A handle is one pointer to the request and one counted reference to the
// replying actor (for that count); it may outlive the actor.
#pragma once

#include <coroutine>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <volley/engine/ask.hpp>
#include <volley/engine/context.hpp>
#include <volley/engine/detail/cell.hpp>
#include <volley/engine/detail/envelope.hpp>
#include <volley/engine/result.hpp>
#include <volley/engine/task.hpp>
#include <volley/engine/type_info.hpp>

namespace volley {

namespace detail {
/// Count a reply that reached no asker (ask.cpp).
void report_reply_to_nobody(cell_base* replier, std::string_view reply_type) noexcept;

/// The handle a reply_task's promise picks up when the engine starts the
/// coroutine: set just before the handler is called, taken by the promise's
/// constructor, which runs before anything else in the coroutine.
inline void*& pending_reply_slot() noexcept {
  thread_local void* slot = nullptr;
  return slot;
}
}  // namespace detail

/// The reply to one ask, to be completed later, once, from any thread.
/// Move-only. Made by context::reply_later<R>().
template <class R>
class reply_handle {
 public:
  /// An empty handle: completing it does nothing.
  reply_handle() noexcept = default;
  reply_handle(reply_handle&& o) noexcept
      : state_(std::exchange(o.state_, nullptr)), replier_(std::exchange(o.replier_, nullptr)) {}
  reply_handle& operator=(reply_handle&& o) noexcept {
    if (this != &o) {
      reset();
      state_ = std::exchange(o.state_, nullptr);
      replier_ = std::exchange(o.replier_, nullptr);
    }
    return *this;
  }
  reply_handle(const reply_handle&) = delete;
  reply_handle& operator=(const reply_handle&) = delete;
  /// A handle dropped while its asker still waits answers errc::broken_promise.
  ~reply_handle() { reset(); }

  /// Answer with a value. True if the asker gets it; false (and a counted
  /// dead letter) when nobody waits for it any more or it was answered before.
  bool ok(R value) noexcept { return complete(result<R>(std::move(value))); }
  /// Answer with an error (the asker's result holds it).
  bool fail(error e) noexcept { return complete(result<R>(std::move(e))); }

  /// True while an asker waits for this reply (not answered, not expired).
  bool pending() const noexcept { return state_ != nullptr && !state_->claimed(); }
  explicit operator bool() const noexcept { return pending(); }

  // -- engine side ----------------------------------------------------------
  /// Takes over the request's count and adds one on the replier.
  reply_handle(detail::ask_state<R>* request, detail::cell_base* replier) noexcept
      : state_(request), replier_(replier) {
    if (replier_ != nullptr) replier_->add_ref();
  }

 private:
  bool complete(result<R> r) noexcept {
    bool delivered = false;
    if (state_ != nullptr) {
      try {
        delivered = state_->complete(std::move(r));
      } catch (...) {
        delivered = true;  // a continuation threw on our thread; the reply itself arrived
      }
      std::exchange(state_, nullptr)->release();
    }
    if (!delivered && replier_ != nullptr) {
      detail::report_reply_to_nobody(replier_, type_name<R>());
    }
    return delivered;
  }

  void reset() noexcept {
    if (state_ != nullptr) {
      std::string why = "the reply handle was dropped unanswered";
      if (replier_ != nullptr) {
        try {
          why += " by " + replier_->path();
        } catch (...) {
        }
      }
      try {
        state_->complete(error{errc::broken_promise, std::move(why)});
      } catch (...) {
      }
      std::exchange(state_, nullptr)->release();
    }
    if (replier_ != nullptr) std::exchange(replier_, nullptr)->release();
  }

  detail::ask_state<R>* state_ = nullptr;  ///< counted; nullptr once answered
  detail::cell_base* replier_ = nullptr;   ///< counted, for the dead-letter count
};

/// The return type of a handler that answers through ctx.reply_later<R>().
/// Returning it without having taken the handle answers errc::broken_promise.
template <class R>
struct deferred {};

/// The return type of a coroutine handler that answers an ask with
/// `co_return value`. Like volley::task otherwise (see task.hpp): the
/// engine owns the frame, other user messages wait while it is suspended,
/// stopping the actor destroys it (the asker then gets broken_promise).
template <class R>
class reply_task {
 public:
  struct promise_type {
    std::exception_ptr error;
    reply_handle<R> reply = take_pending();

    reply_task get_return_object() noexcept {
      return reply_task(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_always final_suspend() noexcept { return {}; }  // the engine destroys it
    void return_value(R value) { reply.ok(std::move(value)); }
    void unhandled_exception() noexcept {
      error = std::current_exception();
      // The asker learns of the failure at once; the actor fails too (the
      // engine rethrows `error` to its supervisor), as with a plain handler.
      try {
        reply.fail(volley::error{errc::handler_failed, detail::describe_exception(error)});
      } catch (...) {
        reply.fail(volley::error{errc::handler_failed, "the handler threw"});
      }
    }

   private:
    static reply_handle<R> take_pending() noexcept {
      void* p = std::exchange(detail::pending_reply_slot(), nullptr);
      return p != nullptr ? std::move(*static_cast<reply_handle<R>*>(p)) : reply_handle<R>();
    }
  };

  reply_task(reply_task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  reply_task& operator=(reply_task&&) = delete;
  ~reply_task() {
    if (h_) h_.destroy();
  }

  /// Engine side: the frame, and where its exception is kept.
  std::coroutine_handle<> release(std::exception_ptr*& error) noexcept {
    error = &h_.promise().error;
    return std::exchange(h_, {});
  }

 private:
  explicit reply_task(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
  std::coroutine_handle<promise_type> h_;
};

template <class R>
reply_handle<R> context::reply_later() {
  detail::envelope* e = current_;
  if (e == nullptr) {
    throw std::logic_error(
        "volley: reply_later() outside a message handler (in a coroutine handler, call it before "
        "the first co_await)");
  }
  if (e->info->take_request == nullptr) return reply_handle<R>(nullptr, cell_);  // a tell
  if (e->info->reply_id != type_id<R>()) {
    throw std::logic_error("volley: reply_later<" + std::string(type_name<R>()) +
                           ">() for an ask of " + std::string(e->info->name) +
                           " whose asker expects another reply type; declare the handler as "
                           "returning volley::deferred<R> with the same R");
  }
  void* request = e->info->take_request(e);
  if (request == nullptr) {
    throw std::logic_error("volley: reply_later() for an ask of " + std::string(e->info->name) +
                           " whose reply was already taken (reply_later twice, or forward)");
  }
  return reply_handle<R>(static_cast<detail::ask_state<R>*>(request), cell_);
}

}  // namespace volley
