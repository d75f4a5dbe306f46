// volley/engine/router.hpp — one handle, many actors: pools and groups.
//
//     // A pool spawns its routees (children of a small pool actor) and
//     // supervises them: a routee that throws is restarted by default.
//     auto workers = volley::spawn_pool<worker>(sys, {.size = 4, .name = "workers"}, db);
//     workers.tell(job{1});                            // to one routee, round-robin
//     int r = workers.ask(compute{2}).get().value();   // an ask, answered by one routee
//     workers.resize(8);                               // grows (or shrinks) the pool
//     workers.tell(volley::poison_pill{});             // stops the pool and its routees
//
//     // A group routes over actors that exist already (it owns none of them).
//     auto shards = volley::make_group<shard>({s0, s1, s2}, volley::routing::consistent_hashing);
//     shards.tell(put{"key", 1});                      // put::routing_key() picks the shard
//
// Strategies (volley::routing):
//   round_robin         each send takes the next routee (one shared counter);
//   random              a per-thread generator picks one;
//   smallest_mailbox    an idle routee (mailbox empty, not scheduled) if one
//                       is found in a scan from a rotating start, else the
//                       round-robin choice. volley's mailboxes keep no
//                       length (a count would cost every send an atomic
//                       RMW), so "smallest" means "empty" here;
//   consistent_hashing  the message's `routing_key()` (any std::hash-able
//                       value) picks the routee on a hash ring (32 points
//                       per routee), so resizing moves only ~1/n of the keys;
//   broadcast           every routee gets its own copy (one envelope each);
//                       an ask through it is refused (std::logic_error).
//   balancing           pools only (Akka's balancing pool): the routees share
//                       one work queue. A send queues the message and wakes
//                       one idle routee if there is one; a busy routee takes
//                       the next message when it is done, so work goes to
//                       whoever is free and none waits behind a slow one.
//                       A routee's own mailbox (messages sent to it by
//                       name) goes before the shared queue. Costs a shared
//                       queue push (moodycamel, ~2x a mailbox push) and a
//                       fence per send. A routee that stops (or is woken
//                       for a message and stops before it runs) hands the
//                       queued work to an idle live routee; when the last
//                       routee has stopped, what is still queued becomes
//                       dead letters (system_shutdown at shutdown, else
//                       recipient_stopped; asks fail with
//                       errc::recipient_stopped). forward() goes to one
//                       routee's own mailbox. A routee suspended in a
//                       coroutine handler (or failed, awaiting its
//                       supervisor) takes no work meanwhile, yet looks idle:
//                       a send may wake it to no effect, and the message
//                       then waits for the next routee to finish a message.
//
// Sending costs what a direct tell costs plus one atomic load (the routee
// table) and the strategy's pick (an atomic increment for round-robin): no
// lock and no allocation beyond the message's envelope. The table is
// replaced, never edited, when the routees change (resize, a routee's
// death); old tables are kept until the router is gone, since a sender may
// still be reading one — a resize costs a table, not a lock on the send path.
//
// A poison_pill sent to a pool stops the pool actor, and with it its
// routees (children stop first; their queued messages become dead
// letters). A poison_pill sent to a group goes to every routee: the group
// is nothing but its routees. A routee of a pool that stops (its own
// decision, or a supervisor's stop) is dropped from the table; the pool
// does not replace it — resize() does. Sends through a pool with no
// routees left are dead letters (reason: unhandled). The pool actor lives
// on when every router handle is gone (it is an actor under /user, stopped
// by a poison pill, pool().stop() or shutdown), but nobody can route to it
// any more.
//
// Akka's scatter-gather-first-completed and tail-chopping groups are in
// scatter_gather.hpp and tail_chopping.hpp (they ask several routees for
// one answer, so their ask differs from a router's).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <volley/engine/actor_ref.hpp>
#include <volley/engine/context.hpp>
#include <volley/engine/detail/cell.hpp>
#include <volley/engine/detail/envelope.hpp>
#include <volley/engine/detail/handler.hpp>
#include <volley/engine/detail/thread_safety.hpp>
#include <volley/engine/mailbox.hpp>
#include <volley/engine/messages.hpp>
#include <volley/engine/supervision.hpp>
#include <volley/engine/system.hpp>
#include <volley/engine/watch.hpp>

namespace volley {

/// How a router picks the routee of a message (see the file comment).
enum class routing {
  round_robin,
  random,
  smallest_mailbox,
  consistent_hashing,
  broadcast,
  balancing
};

constexpr const char* to_string(routing r) noexcept {
  switch (r) {
    case routing::round_robin:
      return "round-robin";
    case routing::random:
      return "random";
    case routing::smallest_mailbox:
      return "smallest-mailbox";
    case routing::consistent_hashing:
      return "consistent-hashing";
    case routing::broadcast:
      return "broadcast";
    case routing::balancing:
      return "balancing";
  }
  return "unknown";
}

/// How spawn_pool builds a pool.
struct pool_options {
  std::size_t size = 1;
  routing strategy = routing::round_robin;
  /// The pool actor's name ("" = anonymous); routees are its anonymous children.
  std::string name{};
  /// The routees' dispatcher (props::dispatcher).
  std::string dispatcher{};
  /// How the pool supervises its routees; the default restarts a routee
  /// that throws (its mailbox is kept, so the table stays valid).
  supervisor_strategy supervision = supervisor_strategy::one_for_one();
};

namespace detail {

/// The routees as one immutable snapshot. Holds a count on each cell.
struct routee_table {
  std::vector<cell_base*> cells;
  /// consistent_hashing: (point on the ring, index into cells), sorted.
  std::vector<std::pair<std::uint64_t, std::uint32_t>> ring;

  routee_table() = default;
  routee_table(const routee_table&) = delete;
  routee_table& operator=(const routee_table&) = delete;
  ~routee_table();
};

/// What every handle of one router shares (router.cpp).
class router_state {
 public:
  explicit router_state(routing s) noexcept : strategy_(s) {}
  ~router_state();
  router_state(const router_state&) = delete;
  router_state& operator=(const router_state&) = delete;

  /// acquire: pairs with the release in publish(), so the table's contents
  /// are visible to the sender that sees its pointer.
  const routee_table* table() const noexcept { return table_.load(std::memory_order_acquire); }

  /// Replace the routees (takes a count on each). Old tables are kept.
  void publish(const std::vector<cell_base*>& cells);

  /// The routee for one message; `key` is used by consistent_hashing only.
  /// `t` must hold at least one routee.
  std::size_t pick(const routee_table& t, std::uint64_t key) noexcept;

  routing strategy() const noexcept { return strategy_; }

  any_ref pool;  ///< the pool actor; empty for a group. Set before the router is shared.
  /// balancing: the routees' shared queue. Set before the router is shared.
  std::shared_ptr<shared_work> work;

  /// The mailbox a new routee of this router gets.
  volley::mailbox routee_mailbox() const {
    return work ? volley::mailbox{mailbox::kind::balancing, nullptr, work} : volley::mailbox{};
  }

 private:
  const routing strategy_;
  std::atomic<const routee_table*> table_{nullptr};
  std::atomic<std::uint64_t> next_{0};  ///< round-robin position (relaxed: only a spread)
  detail::mutex publish_mu_;            ///< resize and routee deaths only, never a send
  /// Every table ever published.
  std::vector<std::unique_ptr<routee_table>> tables_ VOLLEY_GUARDED_BY(publish_mu_);
};

/// Spreads a std::hash value over 64 bits (std::hash of an integer is
/// often the identity).
std::uint64_t mix_hash(std::uint64_t x) noexcept;

template <class M>
concept has_routing_key = requires(const M& m) {
  std::hash<std::decay_t<decltype(m.routing_key())>>{};
};

template <class M>
std::uint64_t routing_key_of(const M& m) {
  if constexpr (has_routing_key<M>) {
    using K = std::decay_t<decltype(m.routing_key())>;
    return mix_hash(static_cast<std::uint64_t>(std::hash<K>{}(m.routing_key())));
  } else {
    throw std::logic_error("volley: a consistent-hashing router got a " +
                           std::string(type_name<M>()) + ", which has no routing_key()");
  }
}

// -- the pool actor ------------------------------------------------------------------

struct pool_watch_routees {};
struct pool_resize {
  std::size_t size;
};

void report_unrouted(cell_base* pool, envelope* e) noexcept;  // router.cpp

template <class A, class... Args>
class pool_actor {
 public:
  // Sent through the router's any_ref to the pool.
  using accepts = volley::accepts<pool_watch_routees, pool_resize, terminated>;

  // Weak: the cell keeps its spawn arguments (for a restart) as long as it
  // exists, and the router's state keeps a ref to this cell; a strong
  // pointer here would keep both for ever. Once every router handle is gone
  // nobody routes any more, and the pool just keeps its routees.
  pool_actor(std::weak_ptr<router_state> state, std::tuple<Args...> args, pool_options o)
      : state_(std::move(state)), args_(std::move(args)), options_(std::move(o)) {}

  volley::supervisor_strategy supervisor_strategy() const { return options_.supervision; }

  void on(const pool_watch_routees&, context& ctx) {
    if (auto state = state_.lock()) {
      for (cell_base* c : state->table()->cells) ctx.watch(any_ref(c));
    }
  }

  void on(const pool_resize& r, context& ctx) {
    auto state = state_.lock();
    if (!state) return;
    std::vector<cell_base*> cells = state->table()->cells;
    while (cells.size() < r.size) {
      auto routee = std::apply(
          [&](const auto&... a) {
            return ctx.spawn<A>(
                props{.dispatcher = options_.dispatcher, .mailbox = state->routee_mailbox()}, a...);
          },
          args_);
      ctx.watch(routee);
      if (state->work) detail::join_work(*state->work, routee.cell());
      cells.push_back(routee.cell());
    }
    std::vector<cell_base*> leaving;
    while (cells.size() > r.size) {
      leaving.push_back(cells.back());
      cells.pop_back();
    }
    state->publish(cells);  // senders stop choosing the leaving ones first...
    for (cell_base* c : leaving) {
      any_ref gone(c);
      ctx.unwatch(gone);
      gone.tell(poison_pill{});  // ...which then handle what they hold, and stop
    }
  }

  void on(const terminated& t, context&) {
    auto state = state_.lock();
    if (!state) return;
    std::vector<cell_base*> cells = state->table()->cells;
    std::erase(cells, t.actor.cell());
    state->publish(cells);
  }

 private:
  std::weak_ptr<router_state> state_;
  std::tuple<Args...> args_;
  pool_options options_;
};

}  // namespace detail

/// A handle on a pool or a group of actors of type A. Copyable, thread-safe;
/// tell / ask / forward as through an actor_ref<A>.
template <class A>
class router {
 public:
  router() noexcept = default;
  explicit router(std::shared_ptr<detail::router_state> s) noexcept : state_(std::move(s)) {}

  template <class M>
  void tell(M&& m) const {
    send(std::forward<M>(m), nullptr);
  }
  /// With the handler's actor as the sender.
  template <class M>
  void tell(M&& m, const context& from) const {
    send(std::forward<M>(m), &from);
  }

  /// Ask one routee (chosen by the strategy); refused for broadcast.
  template <class M>
  auto ask(M&& m) const {
    using T = std::decay_t<M>;
    static_assert(detail::has_handler<A, T>,
                  "volley: the routees have no on() handler for the asked message type");
    const auto& s = checked();
    if (s.strategy() == routing::broadcast) {
      throw std::logic_error("volley: ask through a broadcast router (which routee would answer?)");
    }
    using R = detail::reply_t<A, T>;
    const detail::routee_table* t = s.table();
    if (t->cells.empty()) {
      if (!s.pool) throw std::logic_error("volley: ask through a group with no routees");
      // A pool with no routee left: the request completes with errc::unhandled at once.
      return detail::send_ask<T, R>(s.pool.cell(), nullptr, std::forward<M>(m));
    }
    const std::size_t at = state_->pick(*t, key_for(s, m));
    if (s.work) {
      return detail::send_ask_via<T, R>(
          &detail::invoke_ask<A, T>, std::forward<M>(m), [&](detail::envelope* e) {
            detail::offer_work(*s.work, e, t->cells.data(), t->cells.size(), at);
          });
    }
    return detail::send_ask<T, R>(t->cells[at], &detail::invoke_ask<A, T>, std::forward<M>(m));
  }

  /// Pass m on from inside a handler, keeping the original sender and
  /// ask (see actor_ref::forward); to one routee, chosen by the strategy.
  template <class M>
  void forward(M&& m, const context& ctx) const {
    const auto& s = checked();
    const detail::routee_table* t = s.table();
    if (t->cells.empty())
      throw std::logic_error("volley: forward through a router with no routees");
    actor_ref<A>(t->cells[state_->pick(*t, key_for(s, m))]).forward(std::forward<M>(m), ctx);
  }

  /// Pool: grow or shrink to n routees (asynchronously: the pool actor does
  /// it; a shrink lets the leaving routees finish what they hold).
  void resize(std::size_t n) const {
    const auto& s = checked();
    if (!s.pool) throw std::logic_error("volley: resize of a group; use set_routees");
    s.pool.tell(detail::pool_resize{n});
  }

  /// Group: route over these actors from now on.
  void set_routees(const std::vector<actor_ref<A>>& routees) const {
    auto& s = checked();
    if (s.pool) throw std::logic_error("volley: set_routees on a pool; use resize");
    std::vector<detail::cell_base*> cells;
    for (const auto& r : routees) {
      if (r) cells.push_back(r.cell());
    }
    state_->publish(cells);
  }

  /// The routees now (a snapshot).
  std::vector<actor_ref<A>> routees() const {
    std::vector<actor_ref<A>> out;
    for (detail::cell_base* c : checked().table()->cells) out.emplace_back(c);
    return out;
  }
  std::size_t size() const { return checked().table()->cells.size(); }
  routing strategy() const { return checked().strategy(); }
  /// The pool actor (its path names the pool); empty for a group.
  any_ref pool() const { return checked().pool; }

  explicit operator bool() const noexcept { return state_ != nullptr; }

 private:
  detail::router_state& checked() const {
    if (!state_) throw std::logic_error("volley: send through an empty router");
    return *state_;
  }

  template <class M>
  static std::uint64_t key_for(const detail::router_state& s, const M& m) {
    return s.strategy() == routing::consistent_hashing ? detail::routing_key_of(m) : 0;
  }

  template <class M>
  void send(M&& m, const context* from) const {
    using T = std::decay_t<M>;
    static_assert(detail::handles_v<A, T>,
                  "volley: the routees have no on() handler for the message type sent to them");
    auto& s = checked();
    const detail::routee_table* t = s.table();
    if constexpr (std::is_same_v<T, poison_pill>) {
      if (s.pool) {
        s.pool.tell(poison_pill{});  // the pool stops, its routees first
        return;
      }
    }
    if (s.strategy() == routing::broadcast || (std::is_same_v<T, poison_pill> && !s.pool)) {
      if constexpr (std::is_copy_constructible_v<T>) {
        for (detail::cell_base* c : t->cells) deliver_to(c, T(m), from);
        return;
      } else {
        throw std::logic_error("volley: broadcast of a message type that cannot be copied");
      }
    }
    if (t->cells.empty()) {
      if (!s.pool) throw std::logic_error("volley: send through a group with no routees");
      auto* e = detail::make_envelope<T>(&detail::invoke_tell<A, T>, &detail::message_info_of<T>,
                                         std::forward<M>(m));
      detail::report_unrouted(s.pool.cell(), e);
      return;
    }
    const std::size_t at = state_->pick(*t, key_for(s, m));
    if (s.work) {
      // Balancing: into the shared queue; the routee that is free takes it.
      detail::offer_work(*s.work, make_tell<T>(std::forward<M>(m), from), t->cells.data(),
                         t->cells.size(), at);
      return;
    }
    deliver_to(t->cells[at], std::forward<M>(m), from);
  }

  template <class T, class M>
  static detail::envelope* make_tell(M&& m, const context* from) {
    auto* e = detail::make_envelope<T>(&detail::invoke_tell<A, T>, &detail::message_info_of<T>,
                                       std::forward<M>(m));
    if (from != nullptr) {
      e->sender = from->cell();
      e->sender->add_ref();
    }
    return e;
  }

  template <class M>
  static void deliver_to(detail::cell_base* c, M&& m, const context* from) {
    c->deliver(make_tell<std::decay_t<M>>(std::forward<M>(m), from));
  }

  std::shared_ptr<detail::router_state> state_;
};

/// Spawn a pool of `o.size` actors of type A, each built from `args`
/// (copied per routee), under a pool actor that is a child of /user.
template <class A, class... Args>
router<A> spawn_pool(system& sys, pool_options o, const Args&... args) {
  using pool_t = detail::pool_actor<A, std::decay_t<Args>...>;
  auto state = std::make_shared<detail::router_state>(o.strategy);
  std::size_t n = o.size;
  std::string dispatcher = o.dispatcher;
  if (o.strategy == routing::balancing) state->work = detail::make_shared_work();
  props pool_props{.name = o.name};
  auto pool = sys.spawn<pool_t>(pool_props, std::weak_ptr<detail::router_state>(state),
                                std::tuple<std::decay_t<Args>...>(args...), std::move(o));
  std::vector<detail::cell_base*> cells;
  std::vector<actor_ref<A>> keep;  // our counts until the table has its own
  for (std::size_t i = 0; i < n; ++i) {
    keep.push_back(detail::spawn_actor<A>(
        sys.core(), pool.cell(),
        props{.dispatcher = dispatcher, .mailbox = state->routee_mailbox()}, args...));
    cells.push_back(keep.back().cell());
    if (state->work) detail::join_work(*state->work, cells.back());
  }
  state->pool = pool;
  state->publish(cells);
  pool.tell(detail::pool_watch_routees{});  // a routee dead by then is reported at once
  return router<A>(std::move(state));
}

/// A router over actors that exist already; the group owns none of them.
template <class A>
router<A> make_group(const std::vector<actor_ref<A>>& routees, routing strategy) {
  if (strategy == routing::balancing) {
    throw std::invalid_argument(
        "volley: a balancing router shares its routees' work queue, so it must spawn them: "
        "use spawn_pool");
  }
  router<A> r(std::make_shared<detail::router_state>(strategy));
  r.set_routees(routees);
  return r;
}

}  // namespace volley
