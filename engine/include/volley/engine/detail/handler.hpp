// volley/engine/detail/handler.hpp — from <Actor, Message> to a thunk.
//
// An actor handles M if it has `on(M)` callable with an rvalue M, with or
// without a trailing `context&`. The thunk is instantiated once per
// <Actor, Message> pair and stored in the envelope, so dispatch is one
// indirect call and no lookup. The per-type tables (cell_ops, any_ref's
// handler list) are static constants built once per actor type.
#pragma once

#include <type_traits>
#include <utility>

#include <volley/engine/context.hpp>
#include <volley/engine/detail/cell.hpp>
#include <volley/engine/detail/envelope.hpp>
#include <volley/engine/messages.hpp>
#include <volley/engine/result.hpp>
#include <volley/engine/task.hpp>

namespace volley::detail {

template <class A, class M>
concept handler_with_context = requires(A& a, M&& m, context& c) {
  a.on(std::move(m), c);
};

template <class A, class M>
concept handler_plain = requires(A& a, M&& m) {
  a.on(std::move(m));
};

template <class A, class M>
concept has_handler = handler_with_context<A, M> || handler_plain<A, M>;

/// True if an actor of type A can be sent M through actor_ref<A>.
template <class A, class M>
inline constexpr bool handles_v = has_handler<A, M> || std::is_same_v<M, poison_pill>;

// -- what a handler's return type says about its reply ---------------------------

/// A coroutine handler's return type (the engine keeps the frame).
template <class X>
inline constexpr bool is_coroutine_result = std::is_same_v<X, task>;
template <class R>
inline constexpr bool is_coroutine_result<reply_task<R>> = true;

template <class X>
inline constexpr bool is_reply_task = false;
template <class R>
inline constexpr bool is_reply_task<reply_task<R>> = true;

template <class X>
inline constexpr bool is_deferred = false;
template <class R>
inline constexpr bool is_deferred<deferred<R>> = true;

/// The reply type of an ask answered by a handler returning X: X itself,
/// unit for void, R for reply_task<R> and deferred<R> (task: none; an ask
/// of such a handler does not compile).
template <class X>
struct reply_type {
  using type = X;
};
template <>
struct reply_type<void> {
  using type = unit;
};
template <class R>
struct reply_type<reply_task<R>> {
  using type = R;
};
template <class R>
struct reply_type<deferred<R>> {
  using type = R;
};

template <class A, class M>
decltype(auto) call_handler(A& a, M&& m, context& ctx) {
  if constexpr (handler_with_context<A, M>) {
    return a.on(std::move(m), ctx);
  } else {
    return a.on(std::move(m));
  }
}

/// The payload is destroyed in place after the handler, even if it throws.
template <class M>
struct payload_guard {
  M& m;
  ~payload_guard() { m.~M(); }
};

void request_stop(context& ctx) noexcept;  // context.cpp: what a poison pill does

template <class A, class M>
void invoke_tell(envelope* e, cell_base* c, context& ctx) {
  auto* me = static_cast<message_envelope<M>*>(e);
  payload_guard<M> guard{me->msg};
  if constexpr (std::is_same_v<M, poison_pill> && !has_handler<A, M>) {
    request_stop(ctx);
  } else if constexpr (is_coroutine_result<decltype(call_handler(actor_of<A>(c), std::move(me->msg),
                                                                 ctx))>) {
    // The frame may outlive this call: it gets a message and a context that
    // live as long as it does (see task.hpp). A reply_task told (not asked)
    // finds no reply waiting: its co_return value goes nowhere.
    auto* kept = static_cast<message_envelope<M>*>(keep_for_coroutine(c, e));
    std::exception_ptr* error = nullptr;
    auto frame =
        call_handler(actor_of<A>(c), std::move(kept->msg), coroutine_context(c)).release(error);
    adopt_task(c, frame, error);
  } else {
    (void)call_handler(actor_of<A>(c), std::move(me->msg), ctx);
  }
}

// -- lifecycle hooks, detected ---------------------------------------------------

template <class A>
void call_pre_start(cell_base* c, context& ctx) {
  A& a = actor_of<A>(c);
  if constexpr (requires { a.pre_start(ctx); }) {
    a.pre_start(ctx);
  } else if constexpr (requires { a.pre_start(); }) {
    a.pre_start();
  }
}

template <class A>
void call_post_stop(cell_base* c, context& ctx) {
  A& a = actor_of<A>(c);
  if constexpr (requires { a.post_stop(ctx); }) {
    a.post_stop(ctx);
  } else if constexpr (requires { a.post_stop(); }) {
    a.post_stop();
  }
}

template <class A>
inline constexpr bool has_pre_start = requires(A& a, context& ctx) {
  a.pre_start(ctx);
}
|| requires(A& a) {
  a.pre_start();
};

template <class A>
inline constexpr bool has_post_stop = requires(A& a, context& ctx) {
  a.post_stop(ctx);
}
|| requires(A& a) {
  a.post_stop();
};

template <class A>
void destroy_actor_of(cell_base* c) noexcept {
  static_cast<actor_cell<A>*>(c)->destroy_actor();
}

template <class A, class Stored>
void free_cell_of(cell_base* c) noexcept {
  auto* typed = static_cast<cell<A, Stored>*>(c);
  typed->~cell<A, Stored>();
  cell_free(typed, sizeof(cell<A, Stored>));  // the cells' own pool (envelope_pool.cpp)
}

cell_base*& constructing_cell() noexcept;

template <class A, class Stored>
void reconstruct_of(cell_base* c) {
  cell_base*& slot = constructing_cell();
  cell_base* saved = slot;
  slot = c;  // volley::actor<Self> reads it while A is constructed
  try {
    static_cast<cell<A, Stored>*>(c)->reconstruct();
  } catch (...) {
    slot = saved;
    throw;
  }
  slot = saved;
}

// A restart hook whose parameters match neither form would silently never
// be called (the default would run instead), so any member of that name
// that is not callable as a hook is refused at compile time. A name with
// several overloads is looked at through the callable forms only.
template <class A>
inline constexpr bool names_pre_restart = requires {
  &A::pre_restart;
};
template <class A>
inline constexpr bool names_post_restart = requires {
  &A::post_restart;
};

template <class A>
void call_pre_restart(cell_base* c, context& ctx, const std::exception_ptr& why) {
  A& a = actor_of<A>(c);
  if constexpr (requires { a.pre_restart(why, ctx); }) {
    a.pre_restart(why, ctx);
  } else if constexpr (requires { a.pre_restart(why); }) {
    a.pre_restart(why);
  } else {
    static_assert(!names_pre_restart<A>,
                  "volley: pre_restart must take (const std::exception_ptr&) or "
                  "(const std::exception_ptr&, volley::context&); with other parameters it "
                  "would never be called");
    call_post_stop<A>(c, ctx);  // the default: the old instance ends as if stopped
  }
}

template <class A>
void call_post_restart(cell_base* c, context& ctx, const std::exception_ptr& why) {
  A& a = actor_of<A>(c);
  if constexpr (requires { a.post_restart(why, ctx); }) {
    a.post_restart(why, ctx);
  } else if constexpr (requires { a.post_restart(why); }) {
    a.post_restart(why);
  } else {
    static_assert(!names_post_restart<A>,
                  "volley: post_restart must take (const std::exception_ptr&) or "
                  "(const std::exception_ptr&, volley::context&); with other parameters it "
                  "would never be called");
    call_pre_start<A>(c, ctx);  // the default: the new instance starts as if spawned
  }
}

/// Defined in supervision.hpp: copies A's supervisor_strategy() into `out`.
template <class A>
void strategy_of(cell_base* c, void* out);
template <class A>
inline constexpr bool has_strategy = requires(const A& a) {
  a.supervisor_strategy();
};

// -- run-time dispatch table (any_ref) --------------------------------------------

template <class A, class List>
struct handler_table {
  static constexpr const dynamic_handler* data = nullptr;
  static constexpr std::size_t size = 0;
};

template <class A, class M>
void invoke_ask(envelope* e, cell_base* c, context& ctx);  // actor_ref.hpp

template <class A, class M>
struct reply_of {
  using R0 =
      decltype(call_handler(std::declval<A&>(), std::declval<M&&>(), std::declval<context&>()));
  using type = typename reply_type<std::remove_cvref_t<R0>>::type;
};

template <class A, class M>
constexpr dynamic_handler entry_for() {
  using R = typename reply_of<A, M>::type;
  if constexpr (std::is_same_v<R, task>) {
    return {type_id<M>(), &invoke_tell<A, M>, nullptr, nullptr};
  } else {
    return {type_id<M>(), &invoke_tell<A, M>, &invoke_ask<A, M>, type_id<R>()};
  }
}

template <class A, class... Ms>
struct handler_table<A, accepts<Ms...>> {
  static_assert((has_handler<A, Ms> && ...),
                "volley: a type listed in `accepts` has no on() handler in this actor");
  static constexpr dynamic_handler entries[] = {entry_for<A, Ms>()...,
                                                {nullptr, nullptr, nullptr, nullptr}};
  static constexpr const dynamic_handler* data = entries;
  static constexpr std::size_t size = sizeof...(Ms);
};

template <class A>
struct accepted_list {
  using type = accepts<>;
};
template <class A>
requires requires {
  typename A::accepts;
}
struct accepted_list<A> {
  using type = typename A::accepts;
};

/// Defined in watch.hpp (needs the complete volley::terminated).
template <class A>
void invoke_terminated(envelope* e, cell_base* c, context& ctx);

/// An actor type that takes any message type at run time declares
///     static void on_any(detail::envelope*, detail::cell_base*, context&);
/// (remoting's proxies do). Not for ordinary actors.
template <class A>
constexpr invoke_fn fallback_of() {
  if constexpr (requires { &A::on_any; }) {
    return &A::on_any;
  } else {
    return nullptr;
  }
}

template <class A, class Stored = no_restart>
inline constexpr cell_ops cell_ops_of{
    type_name<A>(),
    has_pre_start<A> ? &call_pre_start<A> : nullptr,
    has_post_stop<A> ? &call_post_stop<A> : nullptr,
    &destroy_actor_of<A>,
    &free_cell_of<A, Stored>,
    handler_table<A, typename accepted_list<A>::type>::data,
    handler_table<A, typename accepted_list<A>::type>::size,
    &invoke_terminated<A>,
    has_strategy<A> ? &strategy_of<A> : nullptr,
    &call_pre_restart<A>,
    &call_post_restart<A>,
    std::is_same_v<Stored, no_restart> ? nullptr : &reconstruct_of<A, Stored>,
    fallback_of<A>(),
};

}  // namespace volley::detail
