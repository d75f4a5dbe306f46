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
#include <memory>
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

/// Send the request and arm its timeout (none for no_deadline); returns the
/// request (our count).
template <class A, class T, class M>
ask_state<reply_t<A, T>>* send_request(cell_base* self, const actor_ref<A>& target, M&& m,
                                       std::chrono::nanoseconds timeout) {
  using R = reply_t<A, T>;
  static_assert(has_handler<A, T>,
                "volley: this actor has no on() handler for the asked message type");
  auto* state = new ask_state<R>();  // our count
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
  return state;
}

template <class R>
struct ask_awaiter {
  cell_base* self;
  ask_state<R>* state;  // counted
  std::optional<result<R>> value;

  ask_awaiter(cell_base* s, ask_state<R>* st) noexcept : self(s), state(st) {}
  ask_awaiter(ask_awaiter&& o) noexcept : self(o.self), state(std::exchange(o.state, nullptr)) {}
  ~ask_awaiter() {
    if (state != nullptr) state->release();
  }

  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    self->add_ref();
    state->then([self = self, frame = h.address(), slot = &value](result<R> r) {
      auto* e = make_envelope<resume_msg<R>>(&invoke_resume<R>, &resume_info_of<R>,
                                             resume_msg<R>{std::move(r), frame, slot});
      self->deliver_system(e);
      self->release();
    });
  }
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
  auto* state =
      detail::send_request<A, T>(cell_, target, std::forward<M>(m),
                                 std::chrono::duration_cast<std::chrono::nanoseconds>(timeout));
  detail::cell_base* self = cell_;
  self->add_ref();
  // std::function needs a copyable callable; the continuation may be move-only.
  auto fn = std::make_shared<Fn>(std::forward<F>(continuation));
  state->then([self, fn](result<R> r) {
    using msg = detail::continuation_msg<R, Fn>;
    auto* e = detail::make_envelope<msg>(&detail::invoke_continuation<R, Fn>,
                                         &detail::message_info_of<msg>,
                                         msg{std::move(r), std::move(*fn)});
    self->deliver(e);  // a stopped asker: a dead letter (recipient stopped)
    self->release();
  });
  state->release();
}

template <class A, class M, class Rep, class Period>
auto context::ask(const actor_ref<A>& target, M&& m, std::chrono::duration<Rep, Period> timeout) {
  using T = std::decay_t<M>;
  using R = detail::reply_t<A, T>;
  if (!target) throw std::logic_error("volley: ask through an empty actor ref");
  auto* state =
      detail::send_request<A, T>(cell_, target, std::forward<M>(m),
                                 std::chrono::duration_cast<std::chrono::nanoseconds>(timeout));
  return detail::ask_awaiter<R>(cell_, state);
}

}  // namespace volley
