// volley/engine/task.hpp — coroutine handlers.
//
// A handler may be a C++20 coroutine returning volley::task; it awaits asks
// with `co_await ctx.ask(target, m, timeout)` (see ask_from_actor.hpp).
//
// Mind what outlives the first co_await: the handler's parameters are
// references to the message and the context of the call that started the
// coroutine, and both are gone once it suspends. Take the message by value
// (`volley::task on(refresh m, volley::context& ctx)`) and use `ctx` only
// before the first co_await — keep what you need from it (ctx.self(), the
// sender) in locals. Members of the actor are safe: the frame never outlives
// the actor (stopping or restarting destroys it).
#pragma once

#include <coroutine>
#include <exception>
#include <utility>

#include <volley/engine/fwd.hpp>

namespace volley {

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
  std::coroutine_handle<promise_type> release() noexcept { return std::exchange(h_, {}); }

 private:
  explicit task(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
  std::coroutine_handle<promise_type> h_;
};

namespace detail {
/// Take ownership of a handler's coroutine: done already (destroyed, its
/// exception rethrown) or suspended (the actor now waits on it).
void adopt_task(cell_base* c, std::coroutine_handle<task::promise_type> h);
/// Is `frame` the coroutine this actor waits on?
bool is_waiting_frame(cell_base* c, void* frame) noexcept;
/// Resume the actor's waiting coroutine (from a resume message).
void resume_task(cell_base* c, void* frame);
}  // namespace detail

}  // namespace volley
