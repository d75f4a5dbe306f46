// volley/engine/actor_ref.hpp — handles to actors.
//
// actor_ref<A> is the typed handle: `tell(m)` compiles only if A has a
// handler for m's type, and resolves that handler at compile time.
// any_ref is the untyped handle (generic code, remoting): it looks the type
// up in the actor's `accepts` list at run time; a type the actor does not
// accept becomes a dead letter.
//
// Both are cheap to copy (one pointer and a reference count), thread-safe,
// and stay valid after the actor stops: sends then go to dead letters.
//
//     auto counter = sys.spawn<counter_actor>();
//     counter.tell(increment{});                 // no sender
//     counter.tell(increment{}, ctx);            // inside a handler: ctx.self() is the sender
//     int total = counter.ask(get_total{}).get().value();
//     backend.forward(m, ctx);                   // pass on: the sender (and an ask) go along
//
// A failed system::select returns an empty any_ref that remembers the path;
// a send through it throws std::logic_error naming that path.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <volley/engine/ask.hpp>
#include <volley/engine/context.hpp>
#include <volley/engine/detail/cell.hpp>
#include <volley/engine/detail/envelope.hpp>
#include <volley/engine/detail/handler.hpp>
#include <volley/engine/reply.hpp>

namespace volley {

namespace detail {

struct adopt_t {};
inline constexpr adopt_t adopt{};

/// Why an any_ref from a failed select is empty: the path and the reason,
/// shared by the ref's copies (counted).
struct unresolved_ref {
  std::atomic<std::uint32_t> refs{1};
  std::string why;
};

/// Common part of the two ref types: a counted pointer to a cell — one
/// pointer wide. The empty any_ref that a failed select returns keeps in it,
/// instead, a pointer to an unresolved_ref with its low bit set (cells and
/// records are aligned, so the bit is free); only any_ref makes one, and
/// every accessor reads through cell(), which sees such a ref as empty.
class ref_base {
 public:
  ref_base() noexcept = default;
  ref_base(adopt_t, cell_base* c) noexcept : cell_(c) {}
  explicit ref_base(cell_base* c) noexcept : cell_(c) { acquire(cell_); }
  ref_base(const ref_base& o) noexcept : cell_(o.cell_) { acquire(cell_); }
  ref_base(ref_base&& o) noexcept : cell_(std::exchange(o.cell_, nullptr)) {}
  ref_base& operator=(const ref_base& o) noexcept {
    ref_base(o).swap(*this);
    return *this;
  }
  ref_base& operator=(ref_base&& o) noexcept {
    ref_base(std::move(o)).swap(*this);
    return *this;
  }
  ~ref_base() { drop(cell_); }
  void swap(ref_base& o) noexcept { std::swap(cell_, o.cell_); }

  explicit operator bool() const noexcept { return cell() != nullptr; }
  bool operator==(const ref_base& o) const noexcept { return cell() == o.cell(); }

  /// "/user/a/b"; empty for an empty ref.
  std::string path() const { return cell() ? cell()->path() : std::string(); }

  /// Stop the actor: the message it is handling finishes, the rest of its
  /// mailbox becomes dead letters, its children stop first.
  void stop() const;
  /// Stop the actor at once with reason "killed" (post_stop still runs).
  void kill() const;

  /// True once the actor has stopped (a snapshot). Its path leaves its
  /// parent's registry just after, so `select` may still find it briefly; a
  /// name is free for a new actor once the parent has seen the child go.
  bool is_stopped() const noexcept { return !cell() || cell()->is_dead(); }

  cell_base* cell() const noexcept { return is_unresolved(cell_) ? nullptr : cell_; }

 protected:
  [[noreturn]] static void throw_empty();

  static void attach_sender(envelope* e, const context& from) noexcept {
    e->sender = from.cell();
    e->sender->add_ref();
  }

  static constexpr std::uintptr_t unresolved_bit = 1;
  static_assert(alignof(unresolved_ref) > unresolved_bit && alignof(cell_base) > unresolved_bit);

  static bool is_unresolved(cell_base* p) noexcept {
    return (reinterpret_cast<std::uintptr_t>(p) & unresolved_bit) != 0;
  }
  static unresolved_ref* record_of(cell_base* p) noexcept {
    return reinterpret_cast<unresolved_ref*>(reinterpret_cast<std::uintptr_t>(p) & ~unresolved_bit);
  }
  /// Adopts `r` (its count) as this ref's value; the ref must be empty.
  void adopt_unresolved(unresolved_ref* r) noexcept {
    cell_ = reinterpret_cast<cell_base*>(reinterpret_cast<std::uintptr_t>(r) | unresolved_bit);
  }
  /// The select failure this empty ref remembers, or nullptr.
  const unresolved_ref* unresolved() const noexcept {
    return is_unresolved(cell_) ? record_of(cell_) : nullptr;
  }

  /// A cell, or (any_ref only) a tagged unresolved_ref. Read it through cell().
  cell_base* cell_ = nullptr;

 private:
  static void acquire(cell_base* p) noexcept {
    if (p == nullptr) return;
    if (is_unresolved(p)) {
      record_of(p)->refs.fetch_add(1, std::memory_order_relaxed);
    } else {
      p->add_ref();
    }
  }
  static void drop(cell_base* p) noexcept {
    if (p == nullptr) return;
    if (!is_unresolved(p)) {
      p->release();
    } else if (record_of(p)->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      // acq_rel: the last owner sees every other owner's use before it frees.
      delete record_of(p);
    }
  }
};

template <class M, class R>
struct ask_envelope final : envelope {
  M msg;
  ask_state<R>* state;
  template <class U>
  ask_envelope(U&& m, ask_state<R>* s) : msg(std::forward<U>(m)), state(s) {}
};

template <class M, class R>
void drop_ask(envelope* e, dead_letter_reason reason) noexcept {
  auto* ae = static_cast<ask_envelope<M, R>*>(e);
  ae->msg.~M();
  if (ae->state == nullptr) return;  // relocated (stashed)
  errc code = reason == dead_letter_reason::unhandled ? errc::unhandled : errc::recipient_stopped;
  try {
    ae->state->complete(error{code, std::string("request not handled: ") + to_string(reason)});
  } catch (...) {
    // complete() only throws if a callback does; nothing sane to do here.
  }
  ae->state->release();
}

template <class T, class R, class M>
ask_envelope<T, R>* make_ask_envelope(invoke_fn fn, M&& m, ask_state<R>* state);

template <class M, class R>
envelope* relocate_ask(envelope* e) {
  auto* from = static_cast<ask_envelope<M, R>*>(e);
  // The request moves only once the new envelope stands: a throwing move
  // leaves it with `from`, whose drop still answers the asker.
  auto* to = make_ask_envelope<M, R>(from->invoke, std::move(from->msg), from->state);
  from->state = nullptr;
  to->sender = std::exchange(from->sender, nullptr);
  return to;
}

template <class M, class R>
const void* ask_payload_of(const envelope* e) {
  return &static_cast<const ask_envelope<M, R>*>(e)->msg;
}

template <class M, class R>
void* take_ask_request(envelope* e) {
  return std::exchange(static_cast<ask_envelope<M, R>*>(e)->state, nullptr);
}

template <class R>
void complete_ask_request(void* request, void* value, const void* err) {
  auto* state = static_cast<ask_state<R>*>(request);
  if (err != nullptr) {
    state->complete(*static_cast<const error*>(err));
  } else {
    state->complete(std::move(*static_cast<R*>(value)));
  }
  state->release();
}

template <class M, class R>
inline constexpr message_info ask_info_of{type_id<M>(),
                                          type_name<M>(),
                                          &drop_ask<M, R>,
                                          sizeof(ask_envelope<M, R>),
                                          false,
                                          &relocate_ask<M, R>,
                                          &ask_payload_of<M, R>,
                                          type_id<R>(),
                                          &take_ask_request<M, R>,
                                          &complete_ask_request<R>,
                                          is_control_v<M>};

/// An ask's envelope for `state` (not counted here), without a sender. If
/// the message's copy or the allocation throws, nothing is left behind: the
/// memory goes back and `state` is untouched, so the caller still owns it.
template <class T, class R, class M>
ask_envelope<T, R>* make_ask_envelope(invoke_fn fn, M&& m, ask_state<R>* state) {
  void* p = envelope_alloc(sizeof(ask_envelope<T, R>));
  ask_envelope<T, R>* e;
  try {
    e = ::new (p) ask_envelope<T, R>(std::forward<M>(m), state);
  } catch (...) {
    envelope_free(p, sizeof(ask_envelope<T, R>));
    throw;
  }
  e->invoke = fn;
  e->info = &ask_info_of<T, R>;
  e->sender = nullptr;
  return e;
}

/// The reply to an ask whose asker no longer waits (timed out, gone).
void report_undeliverable_reply(cell_base* replier, envelope* request) noexcept;  // cell.cpp

/// What A's handler of M returns, as written.
template <class A, class M>
using handler_result_t = std::remove_cvref_t<decltype(call_handler(
    std::declval<A&>(), std::declval<M&&>(), std::declval<context&>()))>;

/// The reply type of an ask of M to A (reply_type in handler.hpp).
template <class A, class M>
using reply_t = typename reply_type<handler_result_t<A, M>>::type;

/// An ask answered by a reply_task: the frame keeps the message and takes
/// the request (its promise's reply handle) before its body runs.
template <class A, class M, class R>
void invoke_reply_task(envelope* e, cell_base* c) {
  // The mailbox's envelope keeps a moved-from payload: destroyed here.
  payload_guard<M> guard{static_cast<ask_envelope<M, R>*>(e)->msg};
  auto* kept = static_cast<ask_envelope<M, R>*>(keep_for_coroutine(c, e));
  reply_handle<R> reply(std::exchange(kept->state, nullptr), c);
  void*& slot = pending_reply_slot();
  slot = &reply;
  struct clear_slot {
    void*& s;
    ~clear_slot() { s = nullptr; }  // taken by the promise, or the frame was never made
  } clear{slot};
  std::exception_ptr* error = nullptr;
  auto frame =
      call_handler(actor_of<A>(c), std::move(kept->msg), coroutine_context(c)).release(error);
  adopt_task(c, frame, error);
}

/// An ask answered by a plain handler: its return value, or later through
/// reply_later (deferred<R>).
template <class A, class M>
void invoke_ask_returning(envelope* e, cell_base* c, context& ctx) {
  using R = reply_t<A, M>;
  using X = handler_result_t<A, M>;
  auto* ae = static_cast<ask_envelope<M, R>*>(e);
  payload_guard<M> guard{ae->msg};
  // Read at scope exit: a handler that stashes the request moves the state
  // out (ae->state becomes nullptr) and the stashed copy answers later.
  struct state_release {
    ask_state<R>*& s;
    ~state_release() {
      if (s != nullptr) s->release();
    }
  } release{ae->state};
  auto answer = [&](result<R> r) {
    if (ae->state != nullptr && !ae->state->complete(std::move(r))) {
      report_undeliverable_reply(c, e);
    }
  };
  try {
    if constexpr (is_deferred<X>) {
      // The handler took the reply with ctx.reply_later() (ae->state is
      // nullptr now), or it forgot to: then nobody could ever answer.
      call_handler(actor_of<A>(c), std::move(ae->msg), ctx);
      answer(error{errc::broken_promise, "the handler of " + std::string(type_name<M>()) +
                                             " returned volley::deferred without taking "
                                             "ctx.reply_later()"});
    } else if constexpr (std::is_same_v<R, unit> &&
                         std::is_void_v<decltype(call_handler(actor_of<A>(c), std::move(ae->msg),
                                                              ctx))>) {
      call_handler(actor_of<A>(c), std::move(ae->msg), ctx);
      answer(unit{});
    } else {
      answer(call_handler(actor_of<A>(c), std::move(ae->msg), ctx));
    }
  } catch (const std::exception& ex) {
    answer(error{errc::handler_failed, ex.what()});
    throw;  // the actor failed: its supervisor decides what happens next
  } catch (...) {
    answer(error{errc::handler_failed, "unknown exception"});
    throw;
  }
}

template <class A, class M>
void invoke_ask(envelope* e, cell_base* c, context& ctx) {
  using X = handler_result_t<A, M>;
  static_assert(!std::is_same_v<X, task>,
                "volley: a coroutine handler returning volley::task cannot answer an ask; return "
                "volley::reply_task<R> and co_return the reply");
  if constexpr (is_reply_task<X>) {
    invoke_reply_task<A, M, reply_t<A, M>>(e, c);
  } else {
    invoke_ask_returning<A, M>(e, c, ctx);
  }
}

void report_unhandled(cell_base* target, envelope* e) noexcept;  // cell.cpp
/// Count a dead letter (unhandled) for an envelope whose payload the caller destroys.
void report_unhandled_in_place(cell_base* target, envelope* e) noexcept;  // watch.cpp

/// Send an ask of T (reply R) to `target` with thunk `fn`; a null `fn` means
/// the actor cannot answer it: the request completes with errc::unhandled.
/// Build an ask of T (reply R) with thunk `fn` and hand its envelope to
/// `deliver` (a balancing pool queues it for whichever routee is free).
template <class T, class R, class M, class Deliver>
future<R> send_ask_via(invoke_fn fn, M&& m, Deliver&& deliver) {
  auto* state = new future_state<R>();
  ask_envelope<T, R>* e;
  try {
    e = make_ask_envelope<T, R>(fn, std::forward<M>(m), state);
  } catch (...) {
    state->release();  // never sent: the caller gets the exception, not a future
    throw;
  }
  state->add_ref_unpublished();  // one for the envelope, one for the future
  future<R> f(state);
  deliver(static_cast<envelope*>(e));
  return f;
}

/// forward()'s ask: `request`, taken from the message being handled, goes on
/// to `target` with that message's sender. If the copy of the message
/// throws, the request is answered handler_failed (the forwarding handler
/// fails with that exception) rather than lost with nobody to answer it.
template <class T, class R, class M>
void forward_request(cell_base* target, invoke_fn fn, M&& m, void* request,
                     const envelope* current) {
  auto* state = static_cast<ask_state<R>*>(request);
  ask_envelope<T, R>* e;
  try {
    e = make_ask_envelope<T, R>(fn, std::forward<M>(m), state);
  } catch (...) {
    try {
      state->complete(error{errc::handler_failed, "forward: the message could not be sent"});
    } catch (...) {  // out of memory for the error's text, or the asker's then() threw
    }
    state->release();
    throw;
  }
  e->sender = current->sender;
  if (e->sender != nullptr) e->sender->add_ref();
  target->deliver(e);
}

template <class T, class R, class M>
future<R> send_ask(cell_base* target, invoke_fn fn, M&& m) {
  return send_ask_via<T, R>(fn, std::forward<M>(m), [&](envelope* e) {
    if (fn == nullptr) {
      report_unhandled(target, e);
    } else {
      target->deliver(e);
    }
  });
}

}  // namespace detail

/// An untyped actor handle. Sends are checked against the actor's
/// `accepts` list at run time; anything else becomes a dead letter
/// (reason: unhandled).
///
/// The empty ref that a failed system::select returns remembers the path
/// it was selected by, so a send through it throws a std::logic_error that
/// names that path (and says whether the path was malformed).
class any_ref : public detail::ref_base {
 public:
  using ref_base::ref_base;

  /// Engine side: the empty ref of a select that found nothing at `path`.
  static any_ref nobody_at(std::string_view path, std::string_view why) {
    any_ref r;
    auto* rec = new detail::unresolved_ref;
    rec->why = "select(\"" + std::string(path) + "\") found no actor (" + std::string(why) + ")";
    r.adopt_unresolved(rec);
    return r;
  }

  template <class M>
  void tell(M&& m) const {
    send(std::forward<M>(m), nullptr);
  }
  template <class M>
  void tell(M&& m, const context& from) const {
    send(std::forward<M>(m), &from);
  }

 private:
  template <class M>
  void send(M&& m, const context* from) const {
    using T = std::decay_t<M>;
    if (cell() == nullptr) throw_empty_selected();
    detail::invoke_fn fn = lookup(type_id<T>());
    if constexpr (std::is_same_v<T, poison_pill>) {
      fn = &detail::invoke_tell<poison_pill_target, T>;
    }
    if (fn == nullptr) {
      // A type without a handler: a remote actor's proxy takes the tell from
      // m itself (serialised on this thread, no envelope); other cells say
      // no at once, and a local handler's tell never comes here.
      if (cell()->tell_directly(&detail::message_info_of<T>, std::addressof(m),
                                from ? from->cell() : nullptr))
        return;
      fn = cell()->ops()->fallback;
    }
    auto* e = detail::make_envelope<T>(fn, &detail::message_info_of<T>, std::forward<M>(m));
    if (from) attach_sender(e, *from);
    if (fn == nullptr) {
      detail::report_unhandled(cell(), e);
      return;
    }
    cell()->deliver(e);
  }

  struct poison_pill_target {};  // handles nothing: a poison pill means stop

  [[noreturn]] void throw_empty_selected() const {
    if (const detail::unresolved_ref* r = unresolved()) {
      throw std::logic_error("volley: send through an empty actor ref: " + r->why);
    }
    throw_empty();
  }

  detail::invoke_fn lookup(type_id_t id) const noexcept {
    const auto* ops = cell()->ops();
    for (std::size_t i = 0; i < ops->handler_count; ++i) {
      if (ops->handlers[i].id == id) return ops->handlers[i].invoke;
    }
    return nullptr;
  }

  const detail::dynamic_handler* lookup_entry(type_id_t id) const noexcept {
    const auto* ops = cell()->ops();
    for (std::size_t i = 0; i < ops->handler_count; ++i) {
      if (ops->handlers[i].id == id) return &ops->handlers[i];
    }
    return nullptr;
  }

 public:
  /// Ask through an untyped ref: the caller names the reply type R. A type
  /// the actor does not accept, or whose handler replies with another type,
  /// completes the future with errc::unhandled at once.
  template <class R, class M>
  future<R> ask(M&& m) const {
    using T = std::decay_t<M>;
    if (cell() == nullptr) throw_empty_selected();
    detail::invoke_fn fn = nullptr;
    if (const auto* entry = lookup_entry(type_id<T>())) {
      if (entry->invoke_ask != nullptr && entry->reply_id == type_id<R>()) fn = entry->invoke_ask;
    } else {
      fn = cell()->ops()->fallback;
    }
    return detail::send_ask<T, R>(cell(), fn, std::forward<M>(m));
  }

  /// Pass m on from inside a handler, keeping the original sender (see
  /// actor_ref::forward). An untyped ref cannot know the reply type of an
  /// ask at compile time: name it, `forward<R>(m, ctx)`, to pass the ask
  /// along so that the receiver's answer reaches the asker. Forwarding an
  /// ask without R, or to an actor that does not answer m with R, throws
  /// std::logic_error (the handler fails; the asker gets handler_failed).
  template <class R = void, class M>
  void forward(M&& m, const context& ctx) const {
    using T = std::decay_t<M>;
    if (cell() == nullptr) throw_empty_selected();
    detail::envelope* current = ctx.current();
    if (current != nullptr && current->info->take_request != nullptr) {
      if constexpr (std::is_void_v<R>) {
        throw std::logic_error("volley: forward of an ask of " + std::string(current->info->name) +
                               " through an any_ref needs the reply type: forward<R>(m, ctx)");
      } else {
        const detail::dynamic_handler* entry = lookup_entry(type_id<T>());
        detail::invoke_fn fn = entry != nullptr && entry->reply_id == type_id<R>()
                                   ? entry->invoke_ask
                                   : (entry == nullptr ? cell()->ops()->fallback : nullptr);
        if (fn == nullptr || current->info->reply_id != type_id<R>()) {
          throw std::logic_error("volley: forward of an ask of " +
                                 std::string(current->info->name) + " to " + path() +
                                 ", which does not answer " + std::string(type_name<T>()) +
                                 " with the " + std::string(type_name<R>()) + " the asker expects");
        }
        if (void* request = current->info->take_request(current)) {
          detail::forward_request<T, R>(cell(), fn, std::forward<M>(m), request, current);
          return;
        }
      }
    }
    // A tell (or an ask already answered): on with the original sender.
    detail::invoke_fn fn = lookup(type_id<T>());
    if constexpr (std::is_same_v<T, poison_pill>) {
      fn = &detail::invoke_tell<poison_pill_target, T>;
    }
    if (fn == nullptr) fn = cell()->ops()->fallback;
    auto* e = detail::make_envelope<T>(fn, &detail::message_info_of<T>, std::forward<M>(m));
    if (current != nullptr && current->sender != nullptr) {
      e->sender = current->sender;
      e->sender->add_ref();
    }
    if (fn == nullptr) {
      detail::report_unhandled(cell(), e);
      return;
    }
    cell()->deliver(e);
  }
};

// A ref is copied into every message that names a sender or a reply-to and
// into containers of routees: it stays one pointer, also when it remembers
// a failed select (ref_base).
static_assert(sizeof(any_ref) == sizeof(void*), "an any_ref is one pointer");

/// A typed actor handle: sends resolve A's handler at compile time.
template <class A>
class actor_ref : public detail::ref_base {
 public:
  using ref_base::ref_base;

  /// Send m; never blocks. Dead letter if the actor has stopped.
  template <class M>
  void tell(M&& m) const {
    send(std::forward<M>(m), nullptr);
  }
  /// Send m with the handler's actor as the sender (ctx.sender() at the receiver).
  template <class M>
  void tell(M&& m, const context& from) const {
    send(std::forward<M>(m), &from);
  }

  /// Ask: the reply is the handler's return value.
  template <class M>
  auto ask(M&& m) const {
    using T = std::decay_t<M>;
    if constexpr (!detail::has_handler<A, T>) {
      static_assert(detail::has_handler<A, T>,
                    "volley: this actor has no on() handler for the asked message type");
      return;  // not reached: keeps the error to the one line above
    } else {
      return ask_impl<T>(std::forward<M>(m));
    }
  }

  /// Pass m on from inside a handler, keeping the original sender: the
  /// receiver's ctx.sender() is whoever sent the message being handled.
  /// When that message is an ask, the ask goes along too — the receiver's
  /// answer (return value, reply_later, co_return) reaches the original
  /// asker, and this handler's own return value is ignored (return
  /// volley::deferred<R> to say so). The receiver must answer with the type
  /// the asker expects; otherwise forward throws std::logic_error (the
  /// handler fails, the asker gets handler_failed).
  template <class M>
  void forward(M&& m, const context& ctx) const {
    using T = std::decay_t<M>;
    static_assert(detail::handles_v<A, T>,
                  "volley: this actor has no on() handler for the message type forwarded to it");
    if (!cell_) throw_empty();
    detail::envelope* current = ctx.current();
    if constexpr (detail::has_handler<A, T> &&
                  !std::is_same_v<detail::handler_result_t<A, T>, task>) {
      using R = detail::reply_t<A, T>;
      if (current != nullptr && current->info->take_request != nullptr) {
        if (current->info->reply_id != type_id<R>()) {
          throw std::logic_error("volley: forward of an ask of " +
                                 std::string(current->info->name) + " to " + path() +
                                 ", whose handler of " + std::string(type_name<T>()) + " replies " +
                                 std::string(type_name<R>()) + ", not the type the asker expects");
        }
        if (void* request = current->info->take_request(current)) {
          detail::forward_request<T, R>(cell_, &detail::invoke_ask<A, T>, std::forward<M>(m),
                                        request, current);
          return;
        }
      }
    }
    auto* e = detail::make_envelope<T>(&detail::invoke_tell<A, T>, &detail::message_info_of<T>,
                                       std::forward<M>(m));
    if (current != nullptr && current->sender != nullptr) {
      e->sender = current->sender;
      e->sender->add_ref();
    }
    cell_->deliver(e);
  }

  /// The untyped view of the same actor.
  any_ref untyped() const { return any_ref(cell_); }
  operator any_ref() const { return untyped(); }  // NOLINT: a typed ref is an untyped one

 private:
  template <class T, class M>
  future<detail::reply_t<A, T>> ask_impl(M&& m) const {
    using R = detail::reply_t<A, T>;
    if (!cell_) throw_empty();
    return detail::send_ask<T, R>(cell_, &detail::invoke_ask<A, T>, std::forward<M>(m));
  }

  template <class M>
  void send(M&& m, const context* from) const {
    using T = std::decay_t<M>;
    static_assert(detail::handles_v<A, T>,
                  "volley: this actor has no on() handler for the message type sent to it "
                  "(see the instantiation below for the actor and the message types)");
    if (!cell_) throw_empty();
    auto* e = detail::make_envelope<T>(&detail::invoke_tell<A, T>, &detail::message_info_of<T>,
                                       std::forward<M>(m));
    if (from) attach_sender(e, *from);
    cell_->deliver(e);
  }
};

template <class A>
actor_ref<A> context::self_as() const {
  return actor_ref<A>(cell_);
}

}  // namespace volley
