// volley/engine/timers.hpp — an actor's keyed timers.
//
//     struct ticker : volley::actor<ticker> {
//       void pre_start() {
//         timers().start_single("hello", 1s, hello{});
//         timers().start_periodic("tick", 2s, [] { return tick{}; });
//       }
//       void on(const tick&) { if (++ticks == 3) timers().cancel("tick"); }
//       void on(const hello&) {}
//       int ticks = 0;
//     };
//
// Guarantees (Akka's, and the ones SObjectizer and Kameo users ask for):
//  * after cancel(key) returns, no message of that timer is handled, not even
//    one already queued in the mailbox — it becomes a dead letter with reason
//    `timer_cancelled`; starting a key again replaces the old timer the same
//    way;
//  * every timer of an actor is cancelled when it stops (or restarts), so a
//    forgotten timer never outlives its actor.
// Timers run on the system's timing wheel (one thread per system, 1 ms
// resolution); starting one hands it to that thread through a lock-free queue
// and cancelling is one atomic operation, so handlers on different workers
// never wait for each other here. With a manual clock (config::clock) they
// fire only when the test advances it.
//
// A timer_set is used only from the actor's own handlers and hooks (it
// edits the actor's timer table without a lock).
#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <volley/engine/context.hpp>
#include <volley/engine/detail/handler.hpp>
#include <volley/engine/detail/timer.hpp>

namespace volley {

namespace detail {

template <class A, class M>
void invoke_timer(envelope* e, cell_base* c, context& ctx) {
  auto* te = static_cast<timer_envelope<M>*>(e);
  payload_guard<M> guard{te->msg};
  if (te->gen != 0 && !take_timer_entry(c, te->gen, te->single)) {
    drop_stale_timer_message(c, e);
    return;
  }
  (void)call_handler(actor_of<A>(c), std::move(te->msg), ctx);
}

template <class A, class M>
struct single_timer final : timer_base {
  std::optional<M> msg;
  static envelope* make_one(timer_base* t) {
    auto* self = static_cast<single_timer*>(t);
    void* p = envelope_alloc(sizeof(timer_envelope<M>));
    auto* e = ::new (p) timer_envelope<M>(std::move(*self->msg), t->gen, true);
    e->invoke = &invoke_timer<A, M>;
    e->info = &timer_info_of<M>;
    e->sender = nullptr;
    return e;
  }
  static void destroy_one(timer_base* t) noexcept { delete static_cast<single_timer*>(t); }
  /// A cancel that stopped the firing owns the node's payload from then on
  /// (make_one can no longer run): the message is destroyed at once, on the
  /// cancelling thread, not whenever the timer thread next meets the node.
  static void drop_payload(timer_base* t) noexcept { static_cast<single_timer*>(t)->msg.reset(); }
};

template <class A, class F>
struct periodic_timer final : timer_base {
  using M = std::decay_t<std::invoke_result_t<F&>>;
  std::optional<F> factory;  // reset by the cancel that stops it (drop_payload)
  explicit periodic_timer(F f) : factory(std::move(f)) {}
  static envelope* make_one(timer_base* t) {
    auto* self = static_cast<periodic_timer*>(t);
    void* p = envelope_alloc(sizeof(timer_envelope<M>));
    try {
      auto* e = ::new (p) timer_envelope<M>((*self->factory)(), t->gen, false);
      e->invoke = &invoke_timer<A, M>;
      e->info = &timer_info_of<M>;
      e->sender = nullptr;
      return e;
    } catch (...) {
      envelope_free(p, sizeof(timer_envelope<M>));
      throw;
    }
  }
  static void destroy_one(timer_base* t) noexcept { delete static_cast<periodic_timer*>(t); }
  /// As single_timer's: a cancel that finds it armed (between firings)
  /// stops every later firing, so the factory (and what it captured) goes.
  static void drop_payload(timer_base* t) noexcept {
    static_cast<periodic_timer*>(t)->factory.reset();
  }
};

}  // namespace detail

template <class Self>
class timer_set {
 public:
  explicit timer_set(detail::cell_base* c) noexcept : cell_(c) {}

  /// Deliver `msg` once, `delay` from now. Replaces a timer with the same key.
  template <class M, class Rep, class Period>
  void start_single(std::string_view key, std::chrono::duration<Rep, Period> delay, M&& msg) {
    using T = std::decay_t<M>;
    static_assert(detail::has_handler<Self, T>,
                  "volley: this actor has no on() handler for the timer's message type");
    auto* t = new detail::single_timer<Self, T>();
    t->msg.emplace(std::forward<M>(msg));
    t->make = &detail::single_timer<Self, T>::make_one;
    t->destroy = &detail::single_timer<Self, T>::destroy_one;
    t->on_cancelled = &detail::single_timer<Self, T>::drop_payload;
    install(key, t, delay);
  }

  /// Deliver `factory()` every `interval` until cancelled. Replaces a timer
  /// with the same key. (A factory, not a message: each firing needs its own.)
  template <class F, class Rep, class Period>
  requires std::is_invocable_v<F&>
  void start_periodic(std::string_view key, std::chrono::duration<Rep, Period> interval,
                      F&& factory) {
    using P = detail::periodic_timer<Self, std::decay_t<F>>;
    static_assert(detail::has_handler<Self, typename P::M>,
                  "volley: this actor has no on() handler for the timer's message type");
    if (interval <= std::chrono::duration<Rep, Period>::zero()) {
      throw std::invalid_argument("volley: a periodic timer's interval must be positive");
    }
    auto* t = new P(std::forward<F>(factory));
    t->period = std::chrono::duration_cast<std::chrono::nanoseconds>(interval);
    t->make = &P::make_one;
    t->destroy = &P::destroy_one;
    t->on_cancelled = &P::drop_payload;
    install(key, t, interval);
  }

  /// Cancel the timer `key`; its queued messages will not be handled.
  /// Returns whether such a timer was active.
  bool cancel(std::string_view key) noexcept {
    auto& entries = detail::timers_of(cell_).entries;
    for (auto it = entries.begin(); it != entries.end(); ++it) {
      if (it->key == key) {
        detail::timer_base* t = it->node;
        entries.erase(it);
        detail::timer_cancel(cell_->core(), t);
        t->release();  // the table's count
        return true;
      }
    }
    return false;
  }

  bool is_active(std::string_view key) const {
    for (const auto& e : detail::timers_of(cell_).entries) {
      if (e.key == key) return true;
    }
    return false;
  }

  /// Cancel every timer of this actor.
  void cancel_all() noexcept { detail::cancel_all_timers(cell_); }

 private:
  // Restarting a key (an FSM re-arms its state timeout on every message)
  // keeps the key's table entry and its string: only the node is new, and
  // it comes from the timer pool (timer_pool.cpp), so a re-arm allocates
  // nothing in the steady state.
  template <class Rep, class Period>
  void install(std::string_view key, detail::timer_base* t,
               std::chrono::duration<Rep, Period> delay) {
    auto& table = detail::timers_of(cell_);
    detail::timer_entry* entry = nullptr;
    for (auto& e : table.entries) {
      if (e.key == key) {
        entry = &e;
        break;
      }
    }
    if (entry == nullptr) {
      try {
        entry = &table.entries.emplace_back(detail::timer_entry{std::string(key), 0, nullptr});
      } catch (...) {
        t->destroy(t);  // not armed, no counts handed out yet
        throw;
      }
    }
    t->gen = table.next_gen++;
    t->target = cell_;
    cell_->add_ref();
    detail::timer_base* old = std::exchange(entry->node, t);
    entry->gen = t->gen;
    if (old != nullptr) {
      // The old timer's queued message, if any, fails the generation check.
      detail::timer_cancel(cell_->core(), old);
      old->release();  // the table's count
    }
    detail::timer_schedule(cell_->core(), t,
                           std::chrono::duration_cast<std::chrono::nanoseconds>(delay));
  }

  detail::cell_base* cell_;
};

}  // namespace volley
