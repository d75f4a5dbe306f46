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
//
// A send that throws (the message's copy, or memory running out) sends
// nothing: the exception reaches the caller (the coroutine, at its
// co_await), no continuation ever runs for it, and nothing is left armed.
// Completing an ask never allocates: the message that brings the result
// back lives in the request's block (reply_slot).
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

/// The message that hands a completed request back to its asker: a pointer
/// to the request, which holds the result (and a continuation's function).
/// Its envelope lives in the request's own block (reply_slot), so that
/// completing a request never allocates or throws: a reply on a worker, the
/// timeout on the timer thread (where a throw is std::terminate) or a drop
/// at shutdown only builds this message in place and delivers it. A
/// completion that could fail there would lose the continuation, or leave a
/// waiting coroutine, and its actor, waiting for ever.
template <class Request>
struct request_done {
  Request* request;
  explicit request_done(Request* r) noexcept : request(r) {}
  request_done(const request_done&) = delete;
  request_done& operator=(const request_done&) = delete;
  /// Run or dropped (a stopped asker), the message is gone: the request
  /// learns it on this thread, the asker's or the dropping one. Its count
  /// is the envelope's, given back when the mailbox retires the node
  /// (reply_slot::release_host), which may be one pop later.
  ~request_done() { request->on_message_gone(); }
};

template <class Request>
void invoke_request_done(envelope* e, cell_base* c, context& ctx) {
  auto* me = static_cast<message_envelope<request_done<Request>>*>(e);
  payload_guard<request_done<Request>> guard{me->msg};
  me->msg.request->run_on_asker(c, ctx);
}

/// The completion message's envelope, inside the request. Before, it was a
/// block of its own taken with the request: an allocation and a free more
/// per ask, and a cold line written when the reply came (bank transaction,
/// where each transfer is a ctx.ask). The envelope holds the count the
/// request gives its message until retire() hands it back (release_host),
/// since the mailbox keeps the handled node as its stub until the next pop.
template <class Request>
class reply_slot {
  using message = message_envelope<request_done<Request>>;

 public:
  reply_slot() noexcept = default;
  reply_slot(const reply_slot&) = delete;
  reply_slot& operator=(const reply_slot&) = delete;

  /// Whether build() has run (the message exists, maybe handled already).
  bool built() const noexcept { return host_ != nullptr; }

  /// The message for `r` (which holds this slot), built in place: nothing
  /// here allocates or throws. Once. The caller hands the message one count
  /// on `r`, which the envelope's retire gives back.
  envelope* build(Request* r, const message_info* info) noexcept {
    host_ = r;
    auto* e = ::new (static_cast<void*>(storage_)) message(r);
    e->invoke = &invoke_request_done<Request>;
    e->info = info;
    e->sender = nullptr;
    return e;
  }

  /// message_info::release_host: the envelope is this slot's storage, its
  /// first member.
  static void release_host(envelope* e) noexcept {
    auto* slot = reinterpret_cast<reply_slot*>(static_cast<void*>(static_cast<message*>(e)));
    slot->host_->release();
  }

 private:
  alignas(message) unsigned char storage_[sizeof(message)];
  Request* host_ = nullptr;  // set by build()
};

/// What a completion message is, for the mailbox and dead-letter reports:
/// no block of its own (alloc_size 0, release_host), and never stashed or
/// kept (no relocate: the message is part of its request, and running a
/// continuation twice would take its result twice).
template <class Request>
constexpr message_info reply_info(const char* name, bool is_system) {
  using M = request_done<Request>;
  static_assert(std::is_standard_layout_v<reply_slot<Request>>,
                "release_host finds the slot at its envelope's address");
  return {type_id<M>(),
          name,
          &drop_payload<M>,
          0,
          is_system,
          nullptr,
          &payload_of<M>,
          nullptr,
          nullptr,
          nullptr,
          false,
          &reply_slot<Request>::release_host};
}

/// A continuation's message is "volley::continuation" in dead-letter reports.
template <class Request>
inline constexpr message_info continuation_info_of = reply_info<Request>("volley::continuation",
                                                                         false);

/// ctx.ask's request with its continuation inline: one allocation where a
/// plain ask_state took three (the request, a shared_ptr holding the
/// continuation, and std::function's heap copy of the lambda holding both).
/// Holds a count on the asker until the continuation is delivered. The count
/// ctx.ask made it with becomes the continuation message's: a ctx.ask costs
/// no count of its own on the request.
template <class R, class Fn>
class continued_ask final : public ask_state<R>, public pooled_request {
 public:
  template <class F>
  continued_ask(cell_base* self, F&& fn) : fn_(std::forward<F>(fn)), self_(self) {
    self_->add_ref();
  }
  ~continued_ask() override {
    if (self_ != nullptr) self_->release();  // never completed
    if (!reply_.built()) fn_.~Fn();          // else the message destroyed it
  }
  /// After the request is sent, with the caller's count (which this takes
  /// over): the continuation runs once it completes.
  void arm() noexcept { this->arm_callback(); }

  /// The completion message, on the asker (a message of the asker's).
  void run_on_asker(cell_base*, context& ctx) {
    if constexpr (std::is_invocable_v<Fn&, result<R>, context&>) {
      fn_(this->take_result(), ctx);
    } else {
      fn_(this->take_result());
    }
  }
  /// The function's captures go with its message, on the asker's thread,
  /// not with the request's last count (maybe the replier's or the timer's).
  void on_message_gone() noexcept { fn_.~Fn(); }

 private:
  void run_callback() noexcept override {
    envelope* e = reply_.build(this, &continuation_info_of<continued_ask>);  // arm()'s count
    cell_base* self = std::exchange(self_, nullptr);
    self->deliver(e);  // a stopped asker: a dead letter (recipient stopped)
    self->release();
  }

  reply_slot<continued_ask> reply_;
  union {
    Fn fn_;  // alive until the completion message is gone (or, without one, until ~)
  };
  cell_base* self_;  // counted until run_callback
};

/// co_await ctx.ask's request: completing it resumes the waiting frame
/// through the asker's system lane; the frame then reads the result here
/// (ask_awaiter). Like continued_ask, no std::function.
template <class R>
class resumed_ask final : public ask_state<R>, public pooled_request {
 public:
  ~resumed_ask() override {
    if (self_ != nullptr) self_->release();  // never completed
  }
  /// From await_suspend: the actor's coroutine waits for this request.
  void arm(cell_base* self) noexcept {
    self->add_ref();
    self_ = self;
    await_request(self, this);
    this->arm_callback();
  }
  using ask_state<R>::take_result;

  /// The completion message, on the asker: resume the frame if it still
  /// waits for this request (stopping or restarting the actor destroys it,
  /// and a later frame may wait for another: task.hpp, awaits_request).
  void run_on_asker(cell_base* c, context&) {
    if (awaits_request(c, this)) resume_task(c);
  }
  void on_message_gone() noexcept {}

 private:
  void run_callback() noexcept override;

  reply_slot<resumed_ask> reply_;
  cell_base* self_ = nullptr;  // counted from arm() until run_callback
};

template <class R>
inline constexpr message_info resume_info_of = reply_info<resumed_ask<R>>("volley::resume", true);

template <class R>
void resumed_ask<R>::run_callback() noexcept {
  this->add_ref();  // the message's: the waiting frame's awaiter keeps its own
  envelope* e = reply_.build(this, &resume_info_of<R>);
  cell_base* self = std::exchange(self_, nullptr);
  self->deliver_system(e);
  self->release();
}

/// Send the request `state` (which holds the caller's count) and arm its
/// timeout (none for no_deadline). If it throws (the message's copy, an
/// allocation), nothing was sent or armed and `state` holds only the
/// caller's count again: the caller releases it and the exception goes on.
template <class A, class T, class M>
void send_request(cell_base* self, const actor_ref<A>& target, M&& m,
                  std::chrono::nanoseconds timeout, ask_state<reply_t<A, T>>* state) {
  using R = reply_t<A, T>;
  static_assert(has_handler<A, T>,
                "volley: this actor has no on() handler for the asked message type");
  // The two steps that may throw come first, the timer's first: a throwing
  // copy then also undoes a timer that was never armed.
  ask_timeout<R>* t = timeout != no_deadline ? new ask_timeout<R>(state) : nullptr;
  ask_envelope<T, R>* e;
  try {
    e = make_ask_envelope<T, R>(&invoke_ask<A, T>, std::forward<M>(m), state);
  } catch (...) {
    if (t != nullptr) t->destroy(t);  // unarmed, so ours alone: gives back its count on state
    throw;
  }
  state->add_ref();  // the envelope's
  e->sender = self;
  self->add_ref();
  if (t != nullptr) {
    t->core = self->core();
    state->set_timeout(t);  // timer_base starts with two counts: the service's and the request's
    timer_schedule(self->core(), t, timeout);
  }
  target.cell()->deliver(e);
}

/// ctx.ask's requests are sent by this, or not at all: a throwing send
/// releases the request (so its asker count, its function and its reply
/// envelope go) and the exception reaches the caller.
template <class A, class T, class M, class Request>
void send_or_release(cell_base* self, const actor_ref<A>& target, M&& m,
                     std::chrono::nanoseconds timeout, Request* state) {
  try {
    send_request<A, T>(self, target, std::forward<M>(m), timeout, state);
  } catch (...) {
    state->release();
    throw;
  }
}

template <class R>
struct ask_awaiter {
  cell_base* self;
  resumed_ask<R>* state;  // counted

  ask_awaiter(cell_base* s, resumed_ask<R>* st) noexcept : self(s), state(st) {}
  ask_awaiter(ask_awaiter&& o) noexcept : self(o.self), state(std::exchange(o.state, nullptr)) {}
  ~ask_awaiter() {
    if (state != nullptr) state->release();
  }

  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<>) noexcept { state->arm(self); }
  result<R> await_resume() { return state->take_result(); }
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
  detail::send_or_release<A, T>(cell_, target, std::forward<M>(m),
                                std::chrono::duration_cast<std::chrono::nanoseconds>(timeout),
                                state);
  state->arm();  // our count is the continuation message's now
}

template <class A, class M, class Rep, class Period>
auto context::ask(const actor_ref<A>& target, M&& m, std::chrono::duration<Rep, Period> timeout) {
  using T = std::decay_t<M>;
  using R = detail::reply_t<A, T>;
  if (!target) throw std::logic_error("volley: ask through an empty actor ref");
  auto* state = new detail::resumed_ask<R>();
  detail::send_or_release<A, T>(cell_, target, std::forward<M>(m),
                                std::chrono::duration_cast<std::chrono::nanoseconds>(timeout),
                                state);
  return detail::ask_awaiter<R>(cell_, state);
}

}  // namespace volley
