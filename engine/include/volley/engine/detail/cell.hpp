// volley/engine/detail/cell.hpp — an actor's runtime representation.
//
// A cell holds the actor object (the user's type, inline), its two mailbox
// lanes, its place in the actor tree and a reference count. Refs point at
// cells; the cell's memory lives until the last ref is gone, so a ref to a
// stopped actor stays safe to use (sends go to dead letters).
//
// Scheduling protocol
// -------------------
// The user lane's mark bit (see intrusive_mpsc) is the actor's scheduling
// state: marked = idle, unmarked = scheduled or running. Whoever unmarks it
// (a push that returns true, or a system-lane signal that does) puts the cell
// on a run queue; the worker that runs it marks it again when both lanes are
// empty. Hence exactly one worker runs an actor at a time and no message is
// ever left in an idle mailbox.
//
// Lifetime protocol
// -----------------
// refs_ counts actor_ref/any_ref copies, the parent's link to a living child,
// its unlinked children together (one count while any child is unlinked and
// not yet destroyed, cell_extras::departed_children, so path() may walk
// parent_ even after the whole system is gone; a linked child needs no
// count, as its parent dies only after it has unlinked),
// envelopes naming the cell as sender, and activations of a dead cell. A
// living cell is kept alive by its parent link, so scheduling it needs no
// count. A cell dies only inside its own activation; the worker keeps a count
// across the rest of that activation, and whoever schedules an already dead
// cell (a late send that raced with its death) takes a count that the worker
// drops when the activation ends. "Dead when scheduled" and "dead when the
// activation starts" are the same fact: death happens only while the cell is
// running, and the mark's acquire/release hands that fact over. The code of
// these steps is in cell_lifecycle.hpp, which the exhaustive checker runs
// (tests/checker/cell_lifecycle_checker_test.cpp).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include <volley/engine/detail/cell_lifecycle.hpp>
#include <volley/engine/detail/envelope.hpp>
#include <volley/engine/detail/thread_safety.hpp>
#include <volley/engine/fwd.hpp>
#include <volley/queues/cache_line.hpp>
#include <volley/queues/intrusive_mpsc.hpp>

namespace volley::detail {

struct timer_table;     // timer.hpp
struct sorted_mailbox;  // sorted_mailbox.hpp (engine/src)

/// A cell's direct taker (cell_base::deliver_directly): takes a user message
/// on the sender's thread; false leaves it to the mailbox after all.
using direct_fn = bool (*)(cell_base* c, envelope* e, void* state) noexcept;

/// A cell's direct teller (cell_base::deliver_directly): takes a tell of the
/// caller's own message object, `payload` (an object of the type `info`
/// names), on the sender's thread, before any envelope is made; `sender` is
/// the telling actor's cell (alive for the call: its handler is running) or
/// nullptr. It must be done with `payload` when it returns, which stays the
/// caller's (to destroy). True: taken, handled or dead-lettered; false: the
/// tell takes an envelope and the ordinary path after all.
using direct_tell_fn = bool (*)(cell_base* c, const message_info* info, const void* payload,
                                cell_base* sender, void* state) noexcept;

/// Run-time dispatch entry (any_ref): a message type the actor declared.
struct dynamic_handler {
  type_id_t id;
  invoke_fn invoke;
  invoke_fn invoke_ask;  ///< thunk for an ask through any_ref, or nullptr
  type_id_t reply_id;    ///< what the handler replies (for any_ref::ask<R>)
};

/// What the engine needs to know about an actor type, once per type.
struct cell_ops {
  std::string_view type_name;
  void (*pre_start)(cell_base*, context&);
  void (*post_stop)(cell_base*, context&);
  void (*destroy_actor)(cell_base*) noexcept;
  void (*free_cell)(cell_base*) noexcept;
  const dynamic_handler* handlers;
  std::size_t handler_count;
  /// Delivers a volley::terminated to this actor type (watch.hpp).
  invoke_fn on_terminated;
  /// Supervision (supervision.hpp): the strategy this actor applies to its
  /// children (nullptr: the default), its restart hooks, and the rebuild of
  /// the actor object from its spawn arguments (nullptr: cannot restart).
  void (*strategy)(cell_base*, void* out);
  void (*pre_restart)(cell_base*, context&, const std::exception_ptr&);
  void (*post_restart)(cell_base*, context&, const std::exception_ptr&);
  void (*reconstruct)(cell_base*);
  /// Takes every message type the handler table lacks (a remote actor's
  /// proxy serialises them by type), or nullptr.
  invoke_fn fallback;
};

/// A cell's local path, made once (cell_base::stable_path), with a number
/// that no other cell of the process ever gets: a remote node keys what it
/// knows of a sender by `serial`, not by the cell's address (a dead cell's
/// memory is reused) nor by its path (a successor may take the name).
struct cell_path {
  std::string path;
  std::uint64_t serial;
  /// `path` + '#' + `serial` in decimal: the name of this incarnation, which
  /// a successor at the same path never has (an actor's name cannot hold a
  /// '#'). Remote nodes are given this one (remote/PROTOCOL.md, "Senders").
  std::string qualified;
};

/// Rarely used parts of a cell, allocated on first use so an idle anonymous
/// actor without children stays small.
struct cell_extras {
  /// Guards the children list and the name index. The children's sibling
  /// links (cell_base::next_sibling_, prev_sibling_) are under their
  /// parent's mu too, which the analysis cannot name, so they are unannotated.
  mutex mu;
  /// Children that have unlinked and are not yet destroyed. While there are
  /// any, they hold one count on this cell together (taken by the unlink
  /// that makes this 1, dropped by the destroy that makes it 0): path()
  /// walks a dead child's parent chain. One count per child was a write to
  /// this cell's line 0 at every unlink and destroy, the line a spawner
  /// reads under `mu`; this counter sits next to `mu`, whose line the unlink
  /// holds anyway.
  std::atomic<std::size_t> departed_children{0};
  std::string name;  ///< set before the cell is published, then read-only
  /// What path() says instead of the parent chain (a remote actor's proxy:
  /// "remote://node/user/echo"); set in the actor's constructor, before the
  /// cell is published, then read-only. Empty: the chain.
  std::string display_path;
  cell_base* first_child VOLLEY_GUARDED_BY(mu) = nullptr;
  std::size_t child_count VOLLEY_GUARDED_BY(mu) = 0;
  std::unordered_map<std::string_view, cell_base*> named_children VOLLEY_GUARDED_BY(mu);
  std::unique_ptr<worker_pool> own_pool;  ///< pinned dispatcher: the actor's own thread
  /// The direct taker and its state (cell_base::deliver_directly); set
  /// before the cell is published, then read-only. Here, not in the actor
  /// object, because a sender may still be inside `direct` while the actor
  /// stops and is destroyed; the extras live until the cell's last count.
  direct_fn direct = nullptr;
  direct_tell_fn direct_tell = nullptr;  ///< or nullptr: tells take `direct`
  std::shared_ptr<void> direct_state;
  /// stable_path()'s record, made by the first caller (any thread; a CAS
  /// publishes it), freed with the extras.
  std::atomic<const cell_path*> stable_path{nullptr};
  // Consumer-owned from here on: only the actor's own activation touches them.
  timer_table* timers = nullptr;      ///< keyed timers, made on first use
  std::vector<cell_base*> watchers;   ///< who watches this actor (counted)
  std::vector<cell_base*> watching;   ///< whom this actor watches (counted)
  void* frame = nullptr;              ///< the suspended handler coroutine, if any
  const void* awaited = nullptr;      ///< the request it awaits (task.hpp, awaits_request)
  envelope* coro_msg = nullptr;       ///< its message, kept alive for it (owned)
  std::unique_ptr<context> coro_ctx;  ///< its context, valid across co_await
  std::vector<envelope*> stash;       ///< ctx.stash(), oldest first
  std::vector<envelope*> front;       ///< unstashed, handled before the mailbox; newest last...
  std::size_t front_next = 0;         ///< ...taken from front_next upwards
  std::size_t stash_capacity = 1000;  ///< a stash that grows past this is a bug, not a queue
  // Bounded mailbox (props::mailbox_capacity): senders count up, the worker down.
  std::atomic<std::uint32_t> queued{0};
  std::uint32_t capacity = 0;
  // Priority or control-aware mailbox (props::mailbox; cell_base::sorted_):
  // the worker's buckets of drained messages.
  std::unique_ptr<sorted_mailbox> sorted;
  // Supervision: when this actor was restarted lately (written by its parent).
  std::vector<std::chrono::steady_clock::time_point> restarts;
  // A restart waits for the old instance's children to stop (so their names
  // are free again), like a stop does.
  bool restart_pending = false;
  std::exception_ptr restart_error;
  ~cell_extras();
};

/// The engine's side of the lifecycle steps (cell_lifecycle.hpp): what they
/// call that the exhaustive checker replaces. Declared before cell_base so
/// its inline release() can use them; defined in cell.cpp, except the two
/// that other translation units reach (retire, destroy).
struct cell_hooks {
  static void retire(queues::mpsc_node* n) noexcept;
  static void dead_letter(cell_base& c, envelope* e) noexcept;
  static bool admit(cell_base& c, envelope* e) noexcept;
  static void schedule(cell_base& c) noexcept;
  static void destroy(cell_base& c) noexcept;
};
using cell_lifecycle = basic_cell_lifecycle<cell_hooks>;

/// The line size the engine lays its shared data out for: the one every
/// volley library uses (volley/queues/cache_line.hpp says why 64 and not
/// std::hardware_destructive_interference_size).
///
/// Why a cell keeps its line alignment although a 112 B cell (jemalloc's
/// class below 128) would need only 16: cells placed 48 B past a line (the
/// header across three lines, head_ and tail_ on one, neighbours sharing
/// lines) against line-aligned ones, bench preset, 2 workers, 7 interleaved
/// pairs on the 2-core VM at load ~3, median ratio misaligned/aligned:
/// counting 0.87 (CPU per run 1.35 -> 1.63 s), ping-pong 0.81, chameneos
/// 0.90. At load ~10 the same pairs showed no difference.
inline constexpr std::size_t cache_line_size = queues::cache_line_size;

class alignas(cache_line_size) cell_base {
 public:
  cell_base(system_core* sys, worker_pool* pool, const cell_ops* ops, cell_base* parent,
            std::uint64_t id) noexcept
      : sys_(sys), pool_(pool), ops_(ops), parent_(parent), id_(id) {}

  cell_base(const cell_base&) = delete;
  cell_base& operator=(const cell_base&) = delete;

  // -- references -----------------------------------------------------------

  void add_ref() noexcept { cell_lifecycle::add_ref(*this); }
  /// `n` counts in one atomic add (a ctx.ask takes two on its asker).
  void add_refs(std::uint32_t n) noexcept { cell_lifecycle::add_refs(*this, n); }
  void release() noexcept { cell_lifecycle::release(*this); }

  // -- state ----------------------------------------------------------------

  lifecycle state() const noexcept { return state_.load(std::memory_order_acquire); }
  bool is_dead() const noexcept { return state() == lifecycle::dead; }
  std::uint64_t id() const noexcept { return id_; }
  system_core* core() const noexcept { return sys_; }
  worker_pool* pool() const noexcept { return pool_.load(std::memory_order_relaxed); }
  const cell_ops* ops() const noexcept { return ops_; }
  cell_base* parent() const noexcept { return parent_; }

  /// "/user/a/b"; anonymous actors are named "$<id>". A cell with a
  /// display path (a remote proxy) gives that instead.
  std::string path() const;
  /// The parent chain's path, display path or not: where this system files it.
  std::string local_path() const;
  /// local_path(), computed on the first call and kept with the cell (a
  /// cell's path never changes), and the cell's process-wide serial. Any
  /// thread; the reference lives as long as the cell. For a remote send's
  /// sender: no walk up the parents and no allocation per message.
  const cell_path& stable_path();
  /// stable_path()'s record if some caller made it, else nullptr (a cell
  /// that was never a remote sender has no serial to compare with).
  const cell_path* stable_path_if_made() const noexcept {
    cell_extras* ext = extras_if_any();
    return ext != nullptr ? ext->stable_path.load(std::memory_order_acquire) : nullptr;
  }
  std::string name() const;

  // -- the hot path ---------------------------------------------------------

  /// Any thread: queue a user message. Never blocks. A dead cell's messages
  /// become dead letters.
  void deliver(envelope* e) noexcept;

  /// Any thread: queue user messages that the caller linked through their
  /// `next` (first ... last, in order), with one mailbox exchange and at
  /// most one schedule for the whole chain, where deliver() pays one of
  /// each per message (the remote loop hands a receive buffer's messages to
  /// an actor this way). A cell that admits each message on its own (a
  /// bounded mailbox, a direct taker) or is dead gets them one by one.
  void deliver_chain(envelope* first, envelope* last) noexcept;

  /// Any thread: queue a system message (drained before user messages).
  void deliver_system(envelope* e) noexcept;

  /// Make a cell runnable after its mark was cleared by this thread.
  void schedule_after_unmark() noexcept;

  /// In the actor's constructor, before the cell is published: from then on
  /// a user message sent while the actor is alive goes to `fn(this, e,
  /// state)` on the sender's thread instead of into the mailbox (a remote
  /// actor's proxy serialises it there: no mailbox hand-off, no activation).
  /// `fn` must dispose of the payload (envelope::info->drop) and answer a
  /// request it took; the engine frees the envelope. Per-sender order is
  /// `fn`'s to keep. System messages, and user messages once the actor
  /// stops, take the mailbox as before. Local sends pay one byte test more.
  /// `tell`, if given, takes a tell through an any_ref for a type the actor
  /// has no handler for (its fallback's types) from the caller's object,
  /// before an envelope is made (tell_directly): a proxy's tell costs no
  /// envelope, where `fn` gets asks and what comes through the mailbox path.
  void deliver_directly(direct_fn fn, std::shared_ptr<void> state, direct_tell_fn tell = nullptr);

  /// Any thread: offer a tell of the caller's `payload` (of the type `info`
  /// names) to the direct teller, if this cell has one and is alive. True:
  /// taken (the caller keeps and destroys its object); false: send it the
  /// ordinary way. Only any_ref's tell of a type without a handler asks, so
  /// a tell to a local handler never reaches this.
  bool tell_directly(const message_info* info, const void* payload, cell_base* sender) noexcept;

  // -- members --------------------------------------------------------------
  // Public to the engine's own translation units (scheduler, system); user
  // code never sees a cell.

  // Layout: two cache lines. Line 0 is what senders touch (the user lane's
  // producer end, state, pool, counts); line 1 is what the running worker
  // writes per message (the lanes' consumer ends, its flags). Without the
  // split, every pop's tail_ write and every push's head_ exchange fought
  // over one line: counting ran at half speed (perf: the handler's first
  // touch of the cell took the miss). intrusive_mpsc is head_, tail_, stub_,
  // so placing mailbox_ at offset 56 puts head_ last on line 0 and tail_
  // first on line 1 (checked by static_asserts in cell.cpp).

  // -- line 0: senders ------------------------------------------------------
  system_core* const sys_;
  // Relaxed is enough: it changes only while the cell runs (a pinned actor
  // hands its late mail to the default pool when it dies), and whoever
  // schedules the cell next learned of that through the mark's acquire.
  std::atomic<worker_pool*> pool_;
  const cell_ops* const ops_;
  std::atomic<std::uint32_t> refs_{0};
  std::atomic<lifecycle> state_{lifecycle::alive};
  std::uint8_t stop_reason_ = 0;  ///< a stop_reason, once stopping
  bool bounded_ = false;          ///< a bounded mailbox: senders count (extras().queued)
  bool direct_ = false;           ///< extras().direct takes user messages (deliver_directly)
  cell_base* const parent_;
  std::atomic<cell_extras*> ext_{nullptr};  ///< made on first use by extras()
  const std::uint64_t id_;
  queues::intrusive_mpsc mailbox_{true};  ///< user lane; its mark = idle

  // -- line 1: the running worker -----------------------------------------------
  queues::intrusive_mpsc system_lane_{false};  ///< never marked; wakes via signal()
  cell_base* prev_sibling_ = nullptr;          ///< guarded by the parent's extras mutex
  cell_base* next_sibling_ = nullptr;
  // Two flags in one byte, to free the byte below. Both are the cell's
  // owner's alone (written before the cell is published, inside its
  // activations, or by the last count's release once it is dead), so no
  // other thread writes the byte they share.
  bool started_ : 1 = false;
  bool actor_destroyed_ : 1 = false;
  bool stop_requested_ = false;
  /// Storage for an actor type without state (actor_cell::in_header): such
  /// an object occupies one byte and writes none, so it lives here and the
  /// cell is this header alone, 128 B, not 192 B.
  unsigned char stateless_actor_[1] = {};
  bool has_front_ = false;  ///< unstashed messages wait in extras().front
  bool suspended_ = false;  ///< a handler coroutine waits (its frame: extras().frame)
  bool failed_ = false;     ///< failed; waits for its supervisor's directive
  // The running worker's copies of state_ and bounded_ (line 0), which it
  // reads per message. Reading line 0 per message made the consumer share
  // the line whose head_ every push exchanges: one more invalidation round
  // trip per message. With the copies, counting on 2 workers went from
  // 18.8 to 34.4 M msg/s (bench preset, 5 interleaved repetitions, the
  // 2-core Intel Xeon VM of results/intel-xeon-2c). Both change only inside
  // the cell's own activation (begin_stop, finalize) or before the cell is
  // published (spawn), so they are written next to the originals.
  lifecycle worker_state_ = lifecycle::alive;
  // Set before the cell is published (attach_cell) and never changed after,
  // so sharing one byte is safe; one byte is all line 1 has left.
  bool worker_bounded_ : 1 = false;
  bool sorted_ : 1 = false;  ///< a priority or control-aware mailbox: extras().sorted
  /// The worker of its pool that ran the cell's last activation, plus one
  /// (0: none yet, or a worker index past the field's 63). Written by the
  /// running worker, read by whoever schedules the idle cell next (the
  /// mark's release/acquire orders the two), so the byte it shares with the
  /// two flags above is only ever touched by the cell's current owner.
  /// A hint for the scheduler's hand-back rule (scheduler.hpp).
  static constexpr unsigned last_worker_bits = 6;  ///< what the byte has left beside the flags
  std::uint8_t last_worker_ : last_worker_bits = 0;

  /// The extras, made on first use (any thread; a CAS publishes them).
  cell_extras& extras();
  cell_extras* extras_if_any() const noexcept { return ext_.load(std::memory_order_acquire); }

 private:
  friend struct cell_hooks;
  void destroy() noexcept;
};

inline void cell_hooks::retire(queues::mpsc_node* n) noexcept {
  detail::retire(static_cast<envelope*>(n));
}

inline void cell_hooks::destroy(cell_base& c) noexcept {
  c.destroy();
}

/// Inline turns: a thread that is not a worker (a remote node's I/O loop)
/// runs a short turn of an actor it has just made runnable, instead of
/// handing the actor to a worker and waking one. For a request that
/// arrives on a socket and whose answer leaves on the same socket, this
/// takes two thread hand-offs (the worker's wake-up, and the loop's
/// wake-up for the reply) out of the round trip.
///
/// The claim is the ordinary one: whoever clears the mailbox's mark owns
/// the cell (see "Scheduling protocol" above). While a `capture` is open on
/// a thread, a delivery from that thread that clears the mark hands the cell
/// to the inline_turns (keep()) instead of its pool; run() later runs one
/// activation per kept cell on this thread, as a worker would (no linger),
/// and a cell with work left after its budget goes to its pool then. Not
/// kept, so scheduled as ever: a cell of another pool than the system's
/// default (a pinned actor, a named dispatcher: the place for actors that
/// block), one that is not alive (a dead cell's activation carries a count
/// of its own), not started yet, suspended, failed, or with a system
/// message waiting; and every cell past max_kept. One thread only: an
/// inline_turns and its captures belong to the thread that made them.
class inline_turns {
 public:
  /// Cells kept per turn; past it they go to their pools. With a budget of
  /// 16 that bounds a turn's inline work at 256 handler calls.
  static constexpr std::size_t max_kept = 16;

  inline_turns() = default;
  inline_turns(const inline_turns&) = delete;
  inline_turns& operator=(const inline_turns&) = delete;
  ~inline_turns() { release(); }

  /// Open on the owning thread around deliveries whose cells may be kept.
  class capture {
   public:
    explicit capture(inline_turns& turns) noexcept;
    capture(const capture&) = delete;
    capture& operator=(const capture&) = delete;
    ~capture();

   private:
    inline_turns* outer_;
  };

  /// One activation of each kept cell here, at most `budget` user messages
  /// each, in the order they were kept; a cell with work left goes to its
  /// pool. No capture is open meanwhile: what the handlers send is
  /// scheduled as from any other thread. Returns how many cells ran.
  std::size_t run(unsigned budget) noexcept;
  /// Hands every kept cell to its pool without running it.
  void release() noexcept;
  bool empty() const noexcept { return count_ == 0; }

 private:
  friend struct cell_hooks;
  bool keep(cell_base& c) noexcept;
  cell_base* kept_[max_kept] = {};
  std::size_t count_ = 0;
};

/// True while inline_turns::run runs a handler on this thread: a blocking
/// get() is refused there, as on a worker (ask.cpp).
bool in_inline_turn() noexcept;

/// The header plus the actor object, inline. actor_of<A> needs only this
/// part, so it works whatever the cell keeps for restarts.
///
/// An actor type without state (an empty class of alignment 1) is built in
/// the header's spare byte (cell_base::stateless_actor_) instead of storage
/// after it: the 1 byte of its own that C++ gives it would round the cell up
/// to the next cache line, 192 B. Its constructor and destructor still run
/// (they may have effects), at the same points as any actor's.
template <class A>
class actor_cell : public cell_base {
 public:
  static constexpr bool in_header = std::is_empty_v<A> && alignof(A) == 1;

  A& actor() noexcept { return *std::launder(reinterpret_cast<A*>(storage())); }
  void destroy_actor() noexcept { actor().~A(); }

 protected:
  using cell_base::cell_base;
  void* storage() noexcept {
    if constexpr (in_header) {
      return this->stateless_actor_;
    } else {
      return storage_.bytes;
    }
  }

 private:
  struct after_header {
    alignas(A) unsigned char bytes[sizeof(A)];
  };
  struct in_header_byte {};
  [[no_unique_address]] std::conditional_t<in_header, in_header_byte, after_header> storage_;
};

/// What a cell keeps to construct its actor again on restart: the spawn
/// arguments, copied — or nothing, when they cannot be copied (such an actor
/// is stopped instead of restarted, and the log says why).
struct no_restart {};

template <class A, class Stored>
class cell final : public actor_cell<A> {
 public:
  template <class... Args>
  cell(system_core* sys, worker_pool* pool, const cell_ops* ops, cell_base* parent,
       std::uint64_t id, Args&&... args)
      : actor_cell<A>(sys, pool, ops, parent, id), stored_(make_stored(args...)) {
    ::new (this->storage()) A(std::forward<Args>(args)...);
  }

  /// Destroy the actor object and build a fresh one from the spawn arguments.
  void reconstruct() {
    if constexpr (!std::is_same_v<Stored, no_restart>) {
      this->destroy_actor();
      std::apply([this](const auto&... a) { ::new (this->storage()) A(a...); }, stored_);
    }
  }

 private:
  template <class... Args>
  static Stored make_stored(const Args&... args) {
    if constexpr (std::is_same_v<Stored, no_restart>) {
      return no_restart{};
    } else {
      return Stored(args...);
    }
  }
  [[no_unique_address]] Stored stored_;
};

template <class A>
A& actor_of(cell_base* c) noexcept {
  return static_cast<actor_cell<A>*>(c)->actor();
}

}  // namespace volley::detail
