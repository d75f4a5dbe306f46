// volley/engine/system.hpp — the actor system: workers, the actor tree, dead letters.
//
//     volley::config cfg;                 // defaults: one pinned worker per core
//     volley::system sys(cfg);            // throws std::invalid_argument on a bad config
//     auto printer = sys.spawn<printer_actor>(volley::props{.name = "printer"}, "> ");
//     printer.tell(print{"hello"});
//     sys.select("/user/printer");        // the same actor, untyped
//     sys.shutdown();                     // or let the destructor do it
//
// Shutdown stops every actor (children before parents, each post_stop runs),
// turns what is left in mailboxes into dead letters, and joins the workers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <volley/engine/actor_ref.hpp>
#include <volley/engine/config.hpp>
#include <volley/engine/context.hpp>
#include <volley/engine/dead_letters.hpp>
#include <volley/engine/detail/cell.hpp>
#include <volley/engine/detail/handler.hpp>
#include <volley/engine/mailbox.hpp>
#include <volley/engine/supervision.hpp>
#include <volley/engine/watch.hpp>

namespace volley {

/// How to spawn an actor, besides its constructor arguments.
struct props {
  /// Unique among its siblings; empty = anonymous ("$<id>" in its path).
  std::string name{};
  /// "" or "default": the default pool. "pinned": a thread of its own, for
  /// blocking work (it ends with the actor). Otherwise a name from
  /// config::pools.
  std::string dispatcher{};
  /// 0: unbounded. Otherwise at most this many user messages wait in the
  /// mailbox; a send beyond it is a dead letter (reason: mailbox_full).
  /// System messages are never refused or evicted.
  std::uint32_t mailbox_capacity = 0;
  /// The order in which waiting messages are handled (mailbox.hpp): FIFO by
  /// default, or priority_mailbox(fn) / control_aware_mailbox().
  volley::mailbox mailbox{};
};

namespace detail {

std::uint64_t next_actor_id(system_core* core) noexcept;
cell_base*& constructing_cell() noexcept;
/// Sets constructing_cell() for the lifetime of the scope (nests).
struct constructing_scope {
  cell_base* saved;
  explicit constructing_scope(cell_base* c) noexcept : saved(constructing_cell()) {
    constructing_cell() = c;
  }
  ~constructing_scope() { constructing_cell() = saved; }
  constructing_scope(const constructing_scope&) = delete;
  constructing_scope& operator=(const constructing_scope&) = delete;
};
cell_base* user_guardian(system_core* core) noexcept;
/// Wire a freshly constructed cell into the system: name, parent, pool,
/// first activation when the actor has a pre_start. Throws (a taken name, an
/// unknown dispatcher, a stopped system) after destroying the cell.
void attach_cell(system_core* core, cell_base* c, cell_base* parent, const props& p);

template <class A, class... Args>
actor_ref<A> spawn_actor(system_core* core, cell_base* parent, const props& p, Args&&... args) {
  static_assert(std::is_class_v<A> && !std::is_abstract_v<A>,
                "volley: an actor is a concrete class");
  // Copyable spawn arguments are kept, so that a restart can build the
  // actor again; otherwise a failing actor is stopped instead.
  using stored = std::conditional_t<(std::is_copy_constructible_v<std::decay_t<Args>> && ...),
                                    std::tuple<std::decay_t<Args>...>, no_restart>;
  using cell_t = cell<A, stored>;
  void* mem = cell_alloc(sizeof(cell_t));
  cell_t* c;
  // volley::actor<Self> reads its cell from here while A is constructed
  // (cell_base is cell<A>'s only base, at offset 0).
  constructing_scope scope(reinterpret_cast<cell_base*>(mem));
  try {
    c = ::new (mem) cell_t(core, nullptr, &cell_ops_of<A, stored>, parent, next_actor_id(core),
                           std::forward<Args>(args)...);
  } catch (...) {
    cell_free(mem, sizeof(cell_t));
    throw;
  }
  c->refs_.store(2, std::memory_order_relaxed);  // the parent's link + the returned ref
  attach_cell(core, c, parent, p);
  return actor_ref<A>(adopt, c);
}

}  // namespace detail

class system {
 public:
  explicit system(config cfg = {});
  ~system();
  system(const system&) = delete;
  system& operator=(const system&) = delete;

  /// Spawn a top-level actor (a child of /user). Arguments go to A's constructor.
  template <class A, class... Args>
  actor_ref<A> spawn(Args&&... args) {
    return detail::spawn_actor<A>(core_, detail::user_guardian(core_), props{},
                                  std::forward<Args>(args)...);
  }
  template <class A, class... Args>
  actor_ref<A> spawn(props p, Args&&... args) {
    return detail::spawn_actor<A>(core_, detail::user_guardian(core_), p,
                                  std::forward<Args>(args)...);
  }

  /// The actor at `path` ("/user/a/b"), or an empty ref when there is none.
  /// A malformed path (not starting with '/', or with an empty segment:
  /// "//user", "/user//a") finds nothing either; a trailing '/' is allowed. A send through the
  /// empty ref throws std::logic_error naming the path and why nothing was found.
  any_ref select(std::string_view path) const;
  /// Every actor matching `pattern`, where a segment "*" matches any child
  /// ("/user/workers/*"), in no particular order; none for a malformed one.
  std::vector<any_ref> select_all(std::string_view pattern) const;

  volley::dead_letters& dead_letters() noexcept;

  /// Stop every actor, dead-letter what is left, join the workers. Idempotent.
  void shutdown();

  /// Deterministic dispatcher (config::deterministic_seed) only: run actors
  /// on the calling thread, one message at a time in the seed's order, until
  /// none is ready. Returns how many activations ran (each handles at most
  /// one user message, after the actor's pending system messages); step()
  /// runs one activation.
  std::size_t run_until_idle();
  bool step();

  const volley::config& configuration() const noexcept;
  /// Workers in the default pool.
  unsigned worker_count() const noexcept;
  /// Why the default pool runs unpinned, or "" when it is pinned.
  const std::string& pinning_note() const noexcept;

  detail::system_core* core() const noexcept { return core_; }

 private:
  detail::system_core* core_;
};

/// Whether this thread paces its sends (README, "Outside senders keep
/// pace"): a thread that is not a worker and outruns its receivers, while
/// the workers take every CPU, may wait up to 2 ms in an envelope
/// allocation for envelopes to come back, and one that spawns far ahead of
/// the workers yields its CPU now and then to the worker pinned there
/// (scheduler.cpp, "Run-ahead"). On by default; a thread that must
/// never nap (an I/O loop, a timer, a latency-critical feed) turns it off for
/// itself. volley's own timer and remote I/O threads do. Returns the
/// previous setting. envelope_pool.cpp.
bool pace_this_thread(bool on) noexcept;

template <class A, class... Args>
actor_ref<A> context::spawn(Args&&... args) {
  return detail::spawn_actor<A>(cell_->core(), cell_, props{}, std::forward<Args>(args)...);
}

template <class A, class... Args>
actor_ref<A> context::spawn(props p, Args&&... args) {
  return detail::spawn_actor<A>(cell_->core(), cell_, p, std::forward<Args>(args)...);
}

}  // namespace volley
