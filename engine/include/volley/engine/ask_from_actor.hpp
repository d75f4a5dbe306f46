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

#include <atomic>
#include <chrono>
#include <coroutine>
#include <exception>
#include <new>
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

/// The completion message's envelope, and until it is built the asker: a
/// base of continued_ask and resumed_ask, so in the request's own block,
/// so that completing a request never allocates or throws: a
/// reply on a worker, the timeout on the timer thread (where a throw is
/// std::terminate) or a drop at shutdown only builds this message in place
/// and delivers it. A completion that could fail there would lose the
/// continuation, or leave a waiting coroutine, and its actor, waiting for
/// ever. The message is the bare envelope: its handler finds the request
/// from the envelope's address (of()), so it carries no pointer to it.
///
/// Before the message is built, the envelope's sender field holds the
/// request's count on its asker (the cell the message will go to): an
/// envelope's sender is nullptr until it is sent, and the field is the
/// request's until then. build() takes the asker out, so the message goes
/// with no sender, as before.
///
/// Why so tight: bank transaction, where each transfer is a ctx.ask and the
/// teller queues every transfer at once, holds most of its requests at
/// once, in the cache of neither worker; each is written when asked, read
/// and written by the replier, read by the asker. A request of two lines
/// instead of three (160 bytes in a 192-byte block, when the envelope held
/// a request pointer, the slot another, the request its asker, and the
/// value a std::optional flag) is a line less to miss on at each of those.
template <class Request>
class reply_slot {
 public:
  reply_slot() noexcept { (::new (static_cast<void*>(storage_)) envelope())->sender = nullptr; }
  reply_slot(const reply_slot&) = delete;
  reply_slot& operator=(const reply_slot&) = delete;

  /// The request's count on its asker, kept until build() takes it.
  void hold_asker(cell_base* asker) noexcept { slot_envelope()->sender = asker; }
  /// The asker, while build() has not run; nullptr after.
  cell_base* held_asker() const noexcept {
    return std::launder(reinterpret_cast<const envelope*>(storage_))->sender;
  }

  /// The message (with `info`) built in place, and the asker's count that
  /// the slot held: the caller delivers the message to it, then releases
  /// the count. Nothing here allocates or throws. Once. The caller hands
  /// the message one count on the request, which retire gives back.
  envelope* build(const message_info* info, cell_base*& asker) noexcept {
    envelope* e = slot_envelope();
    asker = std::exchange(e->sender, nullptr);
    e->next.store(nullptr, std::memory_order_relaxed);
    e->invoke = &invoke;
    e->info = info;
    return e;
  }

  /// The request whose slot holds `e`: the envelope is the slot's first
  /// member, and the slot a base of the request.
  static Request* of(envelope* e) noexcept {
    return static_cast<Request*>(reinterpret_cast<reply_slot*>(static_cast<void*>(e)));
  }

  /// The message's handler, on the asker.
  static void invoke(envelope* e, cell_base* c, context& ctx) {
    Request* r = of(e);
    // Run or thrown out of, the message is gone: the request learns it on
    // this thread (a continuation's captures go with it).
    struct gone {
      Request* r;
      ~gone() { r->on_message_gone(); }
    } guard{r};
    r->run_on_asker(c, ctx);
  }
  /// The message dropped unhandled (a stopped asker): the same.
  static void drop(envelope* e, dead_letter_reason) noexcept { of(e)->on_message_gone(); }
  /// message_info::release_host: the count the message holds on its
  /// request goes when the mailbox retires the node (the stub until the
  /// next pop).
  static void release_host(envelope* e) noexcept { of(e)->release(); }

 private:
  envelope* slot_envelope() noexcept {
    return std::launder(reinterpret_cast<envelope*>(static_cast<void*>(storage_)));
  }

  alignas(envelope) unsigned char storage_[sizeof(envelope)];
};

/// The type a completion message is (its type_id): a tag, never built.
template <class Request>
struct request_done {};

/// What a completion message is, for the mailbox and dead-letter reports:
/// no block of its own (alloc_size 0, release_host), no payload to look at,
/// and never stashed or kept (no relocate: the message is part of its
/// request, and running a continuation twice would take its result twice).
template <class Request>
constexpr message_info reply_info(const char* name, bool is_system) {
  static_assert(std::is_standard_layout_v<reply_slot<Request>>,
                "of() finds the slot at its envelope's address");
  return {type_id<request_done<Request>>(),
          name,
          &reply_slot<Request>::drop,
          0,
          is_system,
          nullptr,
          nullptr,
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
/// Holds a count on the asker (in its reply slot) until the continuation is
/// delivered. The count ctx.ask made it with becomes the continuation
/// message's: a ctx.ask costs no count of its own on the request.
///
/// The ask's envelope stays a block of its own. Built inside the request
/// instead (a third line of a 192-byte block, given back by release_host
/// when the replier's mailbox retires it), it saved an allocation and a
/// free, but the request then lived until the replier's next pop and the
/// replier no longer reused a hot 64-byte block of its own: callgrind on
/// bank transaction at 1 worker, per transfer, 1,113 -> 1,079 instructions
/// but D1 misses 18.3 -> 21.3 and LL misses 2.4 -> 3.1; CPU time per run
/// +10% (median of 9 interleaved pairs, load ~4).
template <class R, class Fn>
class continued_ask final : public ask_state<R>,
                            public pooled_request,
                            public reply_slot<continued_ask<R, Fn>> {
  using slot = reply_slot<continued_ask<R, Fn>>;
  friend slot;

 public:
  /// Takes two counts on `self` in one atomic add: the request's own,
  /// and the one its ask's envelope names `self` with as sender
  /// (send_request with sender_counted). One add where two add_ref()s
  /// were two RMWs on the asker's line 0 per ask. A send that throws
  /// leaves the second with the caller, which gives it back (context::ask).
  template <class F>
  continued_ask(cell_base* self, F&& fn) : fn_(std::forward<F>(fn)) {
    self->add_refs(2);
    this->hold_asker(self);
  }
  ~continued_ask() override {
    // Never completed: the asker's count is still held, and the function
    // (else the message destroyed it).
    if (cell_base* self = this->held_asker()) {
      self->release();
      fn_.~Fn();
    }
  }
  /// After the request is sent, with the caller's count (which this takes
  /// over): the continuation runs once it completes.
  void arm() noexcept { this->arm_callback(); }

 private:
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

  void run_callback() noexcept override {
    cell_base* self = nullptr;
    envelope* e = this->build(&continuation_info_of<continued_ask>, self);  // arm()'s count
    self->deliver(e);  // a stopped asker: a dead letter (recipient stopped)
    self->release();
  }

  union {
    Fn fn_;  // alive until the completion message is gone (or, without one, until ~)
  };
};

/// co_await ctx.ask's request: completing it resumes the waiting frame
/// through the asker's system lane; the frame then reads the result here
/// (ask_awaiter). Like continued_ask, no std::function.
template <class R>
class resumed_ask final : public ask_state<R>,
                          public pooled_request,
                          public reply_slot<resumed_ask<R>> {
  using slot = reply_slot<resumed_ask<R>>;
  friend slot;

 public:
  ~resumed_ask() override {
    if (cell_base* self = this->held_asker()) self->release();  // never completed
  }
  /// From await_suspend: the actor's coroutine waits for this request.
  void arm(cell_base* self) noexcept {
    self->add_ref();
    this->hold_asker(self);
    await_request(self, this);
    this->arm_callback();
  }
  using ask_state<R>::take_result;

 private:
  /// The completion message, on the asker: resume the frame if it still
  /// waits for this request (stopping or restarting the actor destroys it,
  /// and a later frame may wait for another: task.hpp, awaits_request).
  void run_on_asker(cell_base* c, context&) {
    if (awaits_request(c, this)) resume_task(c);
  }
  void on_message_gone() noexcept {}

  void run_callback() noexcept override;
};

template <class R>
inline constexpr message_info resume_info_of = reply_info<resumed_ask<R>>("volley::resume", true);

template <class R>
void resumed_ask<R>::run_callback() noexcept {
  this->add_ref();  // the message's: the waiting frame's awaiter keeps its own
  cell_base* self = nullptr;
  envelope* e = this->build(&resume_info_of<R>, self);
  self->deliver_system(e);
  self->release();
}

/// Send the request `state` (which holds the caller's count) and arm its
/// timeout (none for no_deadline). If it throws (the message's copy, an
/// allocation), nothing was sent or armed and `state` holds only the
/// caller's count again: the caller releases it and the exception goes on.
/// `sender_counted`: the caller took the envelope's count on `self` already
/// (continued_ask's constructor), and keeps it if this throws.
template <class A, class T, class M>
void send_request(cell_base* self, const actor_ref<A>& target, M&& m,
                  std::chrono::nanoseconds timeout, ask_state<reply_t<A, T>>* state,
                  bool sender_counted) {
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
  state->add_ref_unpublished();  // the envelope's: nothing reaches `state` before deliver()
  e->sender = self;
  if (!sender_counted) self->add_ref();
  if (t != nullptr) {
    t->core = self->core();
    state->set_timeout(t);  // timer_base starts with two counts: the service's and the request's
    timer_schedule(self->core(), t, timeout);
  }
  target.cell()->deliver(e);
}

/// ctx.ask's requests are sent by this, or not at all: a throwing send
/// releases the request (so its asker count, its function and its reply
/// envelope go), and the envelope's count on the asker if the request took
/// it (sender_counted), and the exception reaches the caller.
template <class A, class T, class M, class Request>
void send_or_release(cell_base* self, const actor_ref<A>& target, M&& m,
                     std::chrono::nanoseconds timeout, Request* state, bool sender_counted) {
  try {
    send_request<A, T>(self, target, std::forward<M>(m), timeout, state, sender_counted);
  } catch (...) {
    if (sender_counted) self->release();  // never given to an envelope
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
                                state, true);
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
                                state, false);
  return detail::ask_awaiter<R>(cell_, state);
}

}  // namespace volley
