// volley/engine/scatter_gather.hpp — ask every routee, take the first answer.
//
//     auto replicas = volley::make_scatter_gather<replica>({r0, r1, r2}, 200ms);
//     volley::result<value> v = replicas.ask(read{"key"}).get();  // the fastest replica's
//     replicas.late_replies();        // answers that came after the first, dropped
//
// Akka's scatter-gather-first-completed group. An ask goes to every routee
// (one request each); the first value that comes back answers the asker, the
// others are dropped and counted (late_replies()). An ask that gets no value
// within `within` fails with errc::timeout; one whose every routee failed
// (stopped, threw, had no handler) fails with the last of their errors. A
// routee that fails does not fail the ask while another may still answer.
// An ask still open when the system shuts down fails then with
// errc::recipient_stopped, whatever its requests do.
//
// tell sends the message to every routee; a poison_pill to the group stops
// every routee (the group is nothing but its routees, as with make_group).
// The group owns none of its routees and never changes them; it is cheap to
// copy (one shared state) and thread-safe.
//
// Cost per ask: one request envelope and one request state per routee, plus
// the asker's request and its timeout timer (cancelled by the first
// answer, as a plain ask's) — the price of asking everyone, and the reason
// to keep such a group small. Use it when latency matters
// more than load (replicated reads); otherwise route one ask (router.hpp).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include <volley/engine/actor_ref.hpp>
#include <volley/engine/ask.hpp>
#include <volley/engine/detail/first_reply.hpp>
#include <volley/engine/messages.hpp>

namespace volley {

template <class A>
class scatter_gather_group {
 public:
  scatter_gather_group(std::vector<actor_ref<A>> routees, std::chrono::nanoseconds within)
      : state_(std::make_shared<state>(
            state{std::move(routees), within, std::make_shared<std::atomic<std::uint64_t>>(0)})) {
    detail::check_group("a scatter-gather group", state_->routees, {within});
  }

  /// Ask every routee; the first value answers (see the file comment).
  template <class M>
  auto ask(const M& m) const {
    using T = std::decay_t<M>;
    detail::check_group_ask<A, T>();
    using R = detail::reply_t<A, T>;
    auto gather = std::make_shared<detail::first_reply<R>>(state_->late);
    future<R> f = gather->take_future();
    gather->arm_timeout(state_->routees.front().cell()->core(), state_->within);
    for (const actor_ref<A>& r : state_->routees) gather->template ask<T>(r, m, gather);
    gather->last_sent();
    return f;
  }

  /// Send m to every routee.
  template <class M>
  void tell(const M& m) const {
    for (const actor_ref<A>& r : state_->routees) r.tell(m);
  }

  /// Values that came after an ask was answered (or had timed out), dropped.
  std::uint64_t late_replies() const noexcept {
    return state_->late->load(std::memory_order_relaxed);
  }
  const std::vector<actor_ref<A>>& routees() const noexcept { return state_->routees; }

 private:
  struct state {
    std::vector<actor_ref<A>> routees;
    std::chrono::nanoseconds within;
    std::shared_ptr<std::atomic<std::uint64_t>> late;
  };
  std::shared_ptr<state> state_;
};

/// A scatter-gather-first-completed group over existing actors.
template <class A>
scatter_gather_group<A> make_scatter_gather(std::vector<actor_ref<A>> routees,
                                            std::chrono::nanoseconds within) {
  return scatter_gather_group<A>(std::move(routees), within);
}

}  // namespace volley
