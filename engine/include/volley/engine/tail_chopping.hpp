// volley/engine/tail_chopping.hpp — ask one routee, then another if it is slow.
//
//     auto replicas = volley::make_tail_chopping<replica>({r0, r1, r2}, 500ms, 20ms);
//     volley::result<value> v = replicas.ask(read{"key"}).get();
//
// Akka's tail-chopping group. An ask goes to one routee (round-robin over
// asks); if no value has come back `interval` later, it goes to the next
// one as well, and so on until every routee has been asked. The first value
// answers the asker; values after it are dropped and counted
// (late_replies()). No value within `within` (counted from the ask):
// errc::timeout. Every routee asked and every one failed: the last error.
// A routee that fails early does not hurry the next request: the chop
// follows the interval, so a flapping routee costs latency, not load. An ask
// still open when the system shuts down fails then with
// errc::recipient_stopped (its pending chops are dropped, not sent).
//
// tell sends to one routee (round-robin); a poison_pill to the group stops
// every routee. The group owns none of its routees; it is cheap to copy and
// thread-safe.
//
// Cost per ask: one request per routee actually asked (usually one), the
// asker's request and its timeout timer (cancelled by the answer, as a
// plain ask's), and one timer per chop. The chop
// timers run on the system's timer thread, which sends the next request.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include <volley/engine/actor_ref.hpp>
#include <volley/engine/ask.hpp>
#include <volley/engine/detail/first_reply.hpp>
#include <volley/engine/detail/timer.hpp>
#include <volley/engine/messages.hpp>

namespace volley {

namespace detail {

/// One ask in flight through a tail-chopping group.
template <class A, class T, class R>
struct chop : std::enable_shared_from_this<chop<A, T, R>> {
  chop(std::vector<actor_ref<A>> r, T m, std::size_t first, std::chrono::nanoseconds step,
       std::shared_ptr<std::atomic<std::uint64_t>> late)
      : routees(std::move(r)),
        msg(std::move(m)),
        start(first),
        interval(step),
        gather(std::move(late)) {}

  /// Ask the next routee, and arm the timer for the one after (if any).
  /// Runs on the asking thread first, then on the timer thread.
  void send_next() {
    if (gather.settled()) return;  // answered or timed out: nobody else need be asked
    const std::size_t k = next++;
    const bool more = k + 1 < routees.size();
    const actor_ref<A>& to = routees[(start + k) % routees.size()];
    gather.ask(to, msg, this->shared_from_this());
    if (!more) {
      gather.last_sent();
      return;
    }
    auto* t = new chop_timer(this->shared_from_this());
    t->refs.store(1, std::memory_order_relaxed);  // the service's only: nobody cancels it
    t->core = to.cell()->core();
    timer_schedule(t->core, t, interval);
  }

  /// Fires once: sends the next request (on the timer thread, briefly).
  struct chop_timer final : timer_base {
    std::shared_ptr<chop> owner;
    explicit chop_timer(std::shared_ptr<chop> o) : owner(std::move(o)) {
      callback = [](timer_base* t) {
        try {
          static_cast<chop_timer*>(t)->owner->send_next();
        } catch (...) {
          // Out of memory on the timer thread: no more chops; the ask's own
          // timeout still answers the asker.
        }
      };
      destroy = [](timer_base* t) noexcept { delete static_cast<chop_timer*>(t); };
    }
  };

  std::vector<actor_ref<A>> routees;
  T msg;
  std::size_t start;
  std::chrono::nanoseconds interval;
  std::size_t next = 0;  ///< touched by one thread at a time: the asker, then each timer in turn
  first_reply<R> gather;
};

}  // namespace detail

template <class A>
class tail_chopping_group {
 public:
  tail_chopping_group(std::vector<actor_ref<A>> routees, std::chrono::nanoseconds within,
                      std::chrono::nanoseconds interval)
      : state_(std::make_shared<state>()) {
    state_->routees = std::move(routees);
    state_->within = within;
    state_->interval = interval;
    detail::check_group("a tail-chopping group", state_->routees, {within, interval});
  }

  /// Ask one routee, then the next each `interval` (see the file comment).
  template <class M>
  auto ask(const M& m) const {
    using T = std::decay_t<M>;
    detail::check_group_ask<A, T>();
    using R = detail::reply_t<A, T>;
    const std::size_t first =
        state_->next.fetch_add(1, std::memory_order_relaxed) % state_->routees.size();
    auto c = std::make_shared<detail::chop<A, T, R>>(state_->routees, T(m), first, state_->interval,
                                                     state_->late);
    future<R> f = c->gather.take_future();
    c->gather.arm_timeout(state_->routees.front().cell()->core(), state_->within);
    c->send_next();
    return f;
  }

  /// Send m to one routee (round-robin); a poison_pill goes to every routee.
  template <class M>
  void tell(const M& m) const {
    if constexpr (std::is_same_v<std::decay_t<M>, poison_pill>) {
      for (const actor_ref<A>& r : state_->routees) r.tell(m);
    } else {
      const std::size_t i =
          state_->next.fetch_add(1, std::memory_order_relaxed) % state_->routees.size();
      state_->routees[i].tell(m);
    }
  }

  /// Values that came after an ask was answered (or had timed out), dropped.
  std::uint64_t late_replies() const noexcept {
    return state_->late->load(std::memory_order_relaxed);
  }
  const std::vector<actor_ref<A>>& routees() const noexcept { return state_->routees; }

 private:
  struct state {
    std::vector<actor_ref<A>> routees;
    std::chrono::nanoseconds within{};
    std::chrono::nanoseconds interval{};
    std::atomic<std::size_t> next{0};  ///< round-robin start (relaxed: only a spread)
    std::shared_ptr<std::atomic<std::uint64_t>> late =
        std::make_shared<std::atomic<std::uint64_t>>(0);
  };
  std::shared_ptr<state> state_;
};

/// A tail-chopping group over existing actors.
template <class A>
tail_chopping_group<A> make_tail_chopping(std::vector<actor_ref<A>> routees,
                                          std::chrono::nanoseconds within,
                                          std::chrono::nanoseconds interval) {
  return tail_chopping_group<A>(std::move(routees), within, interval);
}

}  // namespace volley
