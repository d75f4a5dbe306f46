// volley/engine/task.hpp — coroutine handlers.
//
// A handler may be a C++20 coroutine returning volley::task; it awaits asks
// with `co_await ctx.ask(target, m, timeout)` (see ask_from_actor.hpp). A
// coroutine that answers an ask returns volley::reply_task<R> instead and
// answers with `co_return value` (reply.hpp); everything below holds for it
// too.
//
// The message and the context a coroutine handler receives stay valid
// across co_await: the engine keeps the message (moved out of the mailbox)
// and gives the coroutine a context of its own until the frame finishes. Two
// things do end at the first suspension: ctx.sender() (read it into a local
// before awaiting) — and nothing else. Members of the actor are safe too:
// the frame never outlives the actor (stopping or restarting destroys it).
#pragma once

#include <coroutine>
#include <exception>
#include <utility>

#include <volley/engine/fwd.hpp>

namespace volley {

/// A coroutine handler that answers an ask with `co_return value`, and the
/// marker return type of a handler that answers through ctx.reply_later<R>()
/// (both in reply.hpp).
template <class R>
class reply_task;
template <class R>
struct deferred;

/// The return type of a coroutine handler. Fire-and-forget from the
/// caller's view: the engine owns the frame.
class task {
 public:
  struct promise_type {
    std::exception_ptr error;
    task get_return_object() noexcept {
      return task(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_always final_suspend() noexcept { return {}; }  // the engine destroys it
    void return_void() noexcept {}
    void unhandled_exception() noexcept { error = std::current_exception(); }
  };

  task(task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  task& operator=(task&&) = delete;
  ~task() {
    if (h_) h_.destroy();
  }
  /// Engine side: the frame, and where its exception is kept.
  std::coroutine_handle<> release(std::exception_ptr*& error) noexcept {
    error = &h_.promise().error;
    return std::exchange(h_, {});
  }

 private:
  explicit task(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
  std::coroutine_handle<promise_type> h_;
};

namespace detail {
/// Before a coroutine handler runs: move its message out of the mailbox
/// into an envelope the cell keeps, and make the context it will use.
/// Returns that envelope; coroutine_context(c) is the context.
envelope* keep_for_coroutine(cell_base* c, envelope* e);
context& coroutine_context(cell_base* c) noexcept;
/// Take ownership of a handler's coroutine (a task or a reply_task): done
/// already (destroyed, its exception rethrown) or suspended (the actor now
/// waits on it). `error` is where the frame's promise keeps an exception.
void adopt_task(cell_base* c, std::coroutine_handle<> h, std::exception_ptr* error);
/// The actor's coroutine is about to suspend waiting for `request` (a
/// co_await ctx.ask, from await_suspend).
void await_request(cell_base* c, const void* request) noexcept;
/// Does the actor's coroutine still wait for `request`? Asked by the
/// request's resume message. The request, not the frame's address, names
/// what is awaited: a frame destroyed by a stop or a restart frees its
/// address at once, and the next coroutine handler's frame may get it while
/// the old request's resume message is still on its way — that message
/// would resume a frame waiting for something else (which then reads a
/// result that is not there). The request cannot be impersonated: its
/// resume message holds a count on it, so no other request can live at its
/// address as long as that message can still arrive.
bool awaits_request(cell_base* c, const void* request) noexcept;
/// Resume the actor's waiting coroutine (from a resume message).
void resume_task(cell_base* c);
}  // namespace detail

}  // namespace volley
