// volley/engine/ask_from_actor.hpp — asking from inside an actor, without blocking.
//
// Two forms, both run the rest of the work *on the asking actor*, so it may
// touch the actor's state:
//
//   continuation:
//     ctx.ask(store, get{"k"}, 100ms, [this](volley::result<value> r) { cache_ = r.value(); });
//
//   coroutine (the handler returns volley::task):
//     volley::task on(const refresh&, volley::context& ctx) {
//       auto r = co_await ctx.ask(store, get{"k"}, 100ms);
//       if (r) cache_ = r.value();
//     }
//
// To answer an ask of your own with what such an ask brings back, take the
// reply with ctx.reply_later<R>() or return volley::reply_task<R> (reply.hpp).
//
// The continuation arrives as an ordinary message (in mailbox order). A
// waiting coroutine is resumed through the system lane, and while it waits
// the actor's other user messages wait in the mailbox (they are not lost and
// keep their order); stop, terminated and supervision are still handled, and
// stopping the actor destroys the waiting frame — it is never resumed after.
#pragma once

#include <chrono>
#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include <volley/engine/actor_ref.hpp>
#include <volley/engine/ask.hpp>
#include <volley/engine/context.hpp>
#include <volley/engine/detail/timer.hpp>
#include <volley/engine/task.hpp>

namespace volley {

namespace detail {

template <class R, class F>
struct continuation_msg {
  result<R> res;
  F fn;
};

template <class R, class F>
void invoke_continuation(envelope* e, cell_base*, context& ctx) {
  auto* me = static_cast<message_envelope<continuation_msg<R, F>>*>(e);
  payload_guard<continuation_msg<R, F>> guard{me->msg};
  if constexpr (std::is_invocable_v<F&, result<R>, context&>) {
    me->msg.fn(std::move(me->msg.res), ctx);
  } else {
    me->msg.fn(std::move(me->msg.res));
  }
}

template <class R>
struct resume_msg {
  result<R> res;
  void* frame;
  std::optional<result<R>>* slot;  // in the frame; valid while the frame is
};

template <class R>
void invoke_resume(envelope* e, cell_base* c, context&) {
  auto* me = static_cast<message_envelope<resume_msg<R>>*>(e);
  payload_guard<resume_msg<R>> guard{me->msg};
  if (!is_waiting_frame(c, me->msg.frame)) return;  // the frame is gone (stopped, restarted)
  me->msg.slot->emplace(std::move(me->msg.res));
  resume_task(c, me->msg.frame);
}

template <class R>
inline constexpr message_info resume_info_of{type_id<resume_msg<R>>(), "volley::resume",
                                             &drop_payload<resume_msg<R>>,
                                             sizeof(message_envelope<resume_msg<R>>), true};

/// ctx.ask's request with its continuation inline: one allocation where a
/// plain ask_state took three (the request, a shared_ptr holding the
/// continuation, and std::function's heap copy of the lambda holding both).
/// Holds a count on the asker until the continuation is delivered.
template <class R, class Fn>
class continued_ask final : public ask_state<R> {
 public:
  template <class F>
  continued_ask(cell_base* self, F&& fn) : self_(self), fn_(std::forward<F>(fn)) {
    self_->add_ref();
  }
  ~continued_ask() override {
    if (self_ != nullptr) self_->release();  // never completed
  }
  /// After the request is sent: the continuation runs once it completes.
  void arm() { this->arm_callback(); }

 private:
  void run_callback(result<R>&& r) override {
    using msg = continuation_msg<R, Fn>;
    auto* e = make_envelope<msg>(&invoke_continuation<R, Fn>, &message_info_of<msg>,
                                 msg{std::move(r), std::move(fn_)});
    cell_base* self = std::exchange(self_, nullptr);
    self->deliver(e);  // a stopped asker: a dead letter (recipient stopped)
    self->release();
  }

  cell_base* self_;  // counted until run_callback
  Fn fn_;
};

/// co_await ctx.ask's request: completing it resumes the waiting frame
/// through the asker's system lane. Like continued_ask, no std::function.
template <class R>
class resumed_ask final : public ask_state<R> {
 public:
  ~resumed_ask() override {
    if (self_ != nullptr) self_->release();  // never completed
  }
  /// From await_suspend: `frame` waits on `self` for its result in `slot`.
  void arm(cell_base* self, void* frame, std::optional<result<R>>* slot) {
    self->add_ref();
    self_ = self;
    frame_ = frame;
    slot_ = slot;
    this->arm_callback();
  }

 private:
  void run_callback(result<R>&& r) override {
    auto* e = make_envelope<resume_msg<R>>(&invoke_resume<R>, &resume_info_of<R>,
                                           resume_msg<R>{std::move(r), frame_, slot_});
    cell_base* self = std::exchange(self_, nullptr);
    self->deliver_system(e);
    self->release();
  }

  cell_base* self_ = nullptr;  // counted from arm() until run_callback
  void* frame_ = nullptr;
  std::optional<result<R>>* slot_ = nullptr;  // in the frame; valid while the frame is
};

/// Send the request `state` (which holds the caller's count) and arm its
/// timeout (none for no_deadline).
template <class A, class T, class M>
void send_request(cell_base* self, const actor_ref<A>& target, M&& m,
                  std::chrono::nanoseconds timeout, ask_state<reply_t<A, T>>* state) {
  using R = reply_t<A, T>;
  static_assert(has_handler<A, T>,
                "volley: this actor has no on() handler for the asked message type");
  ask_timeout<R>* t = nullptr;
  if (timeout != no_deadline) {
    t = new ask_timeout<R>(state);
    t->core = self->core();
    state->set_timeout(t);  // timer_base starts with two counts: the service's and the request's
  }
  state->add_ref();  // the envelope's
  void* p = envelope_alloc(sizeof(ask_envelope<T, R>));
  auto* e = ::new (p) ask_envelope<T, R>(std::forward<M>(m), state);
  e->invoke = &invoke_ask<A, T>;
  e->info = &ask_info_of<T, R>;
  e->sender = self;
  self->add_ref();
  if (t != nullptr) timer_schedule(self->core(), t, timeout);
  target.cell()->deliver(e);
}

template <class R>
struct ask_awaiter {
  cell_base* self;
  resumed_ask<R>* state;  // counted
  std::optional<result<R>> value;

  ask_awaiter(cell_base* s, resumed_ask<R>* st) noexcept : self(s), state(st) {}
  ask_awaiter(ask_awaiter&& o) noexcept : self(o.self), state(std::exchange(o.state, nullptr)) {}
  ~ask_awaiter() {
    if (state != nullptr) state->release();
  }

  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) { state->arm(self, h.address(), &value); }
  result<R> await_resume() { return std::move(*value); }
};

}  // namespace detail

template <class A, class M, class Rep, class Period, class F>
void context::ask(const actor_ref<A>& target, M&& m, std::chrono::duration<Rep, Period> timeout,
                  F&& continuation) {
  using T = std::decay_t<M>;
  using R = detail::reply_t<A, T>;
  using Fn = std::decay_t<F>;
  static_assert(
      std::is_invocable_v<Fn&, result<R>> || std::is_invocable_v<Fn&, result<R>, context&>,
      "volley: the continuation must take volley::result<R> (and optionally context&)");
  if (!target) throw std::logic_error("volley: ask through an empty actor ref");
  auto* state = new detail::continued_ask<R, Fn>(cell_, std::forward<F>(continuation));
  detail::send_request<A, T>(cell_, target, std::forward<M>(m),
                             std::chrono::duration_cast<std::chrono::nanoseconds>(timeout), state);
  state->arm();
  state->release();
}

template <class A, class M, class Rep, class Period>
auto context::ask(const actor_ref<A>& target, M&& m, std::chrono::duration<Rep, Period> timeout) {
  using T = std::decay_t<M>;
  using R = detail::reply_t<A, T>;
  if (!target) throw std::logic_error("volley: ask through an empty actor ref");
  auto* state = new detail::resumed_ask<R>();
  detail::send_request<A, T>(cell_, target, std::forward<M>(m),
                             std::chrono::duration_cast<std::chrono::nanoseconds>(timeout), state);
  return detail::ask_awaiter<R>(cell_, state);
}

}  // namespace volley
