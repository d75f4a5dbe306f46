// engine/src/cell.cpp — delivery, the actor tree, and how actors stop.
//
// Stopping, in order (all inside the stopping actor's own activation):
//   1. state alive -> stopping; every child is sent a stop;
//   2. each child, when it has died, unlinks itself from its parent and
//      sends the parent `child_terminated` — only to a parent that waits for
//      its children (stopping, or restarting). Whether it waits is read
//      under the parent's extras mutex, the lock the parent holds when it
//      collects the children it will wait for, and the parent records that
//      it waits (state stopping, restart_pending) before or inside that
//      section: a child that unlinks later sees it, one that unlinked
//      earlier is not waited for. A living parent that waits for nothing
//      gets no message: on fork-join creation (1M actors spawned under
//      /user, each stops after one message) every death cost the guardian
//      an envelope, a system-lane push and an activation, for nothing;
//   3. when no child is left: post_stop, the actor object is destroyed, state
//      -> dead, the cell unlinks from its parent and tells it; messages still
//      queued and any sent later become dead letters (reason: recipient
//      stopped).
// So post_stop runs for children before their parent, and no actor dies
// before its whole subtree has.
#include <cstddef>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <utility>

#include <volley/engine/actor_ref.hpp>
#include <volley/engine/detail/cell.hpp>
#include <volley/engine/detail/departed_children.hpp>
#include <volley/engine/system.hpp>

#include <volley/engine/detail/timer.hpp>

#include "scheduler.hpp"
#include "sorted_mailbox.hpp"
#include "system_core.hpp"

namespace volley::detail {

// The line split described in cell.hpp. offsetof on a class with atomics is
// "conditionally supported"; g++ and clang both support it.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"
static_assert(offsetof(cell_base, mailbox_) == 56, "mailbox_ head_ must end cache line 0");
static_assert(sizeof(cell_base) == 128, "a cell header is two cache lines");
#pragma GCC diagnostic pop

// What an actor costs (issue 11's idle actor figures): one without state is
// the header alone, built in its spare byte (actor_cell::in_header); 16 B of
// state add one cache line. Spawned without arguments, so nothing is kept
// for a restart either (std::tuple<> takes no room).
namespace layout_check {
struct stateless {
  void on(int) {}
};
struct sixteen_bytes {
  std::uint64_t a = 0, b = 0;
};
}  // namespace layout_check
static_assert(actor_cell<layout_check::stateless>::in_header);
static_assert(sizeof(cell<layout_check::stateless, std::tuple<>>) == 128,
              "an actor without state costs one cell header");
static_assert(sizeof(cell<layout_check::stateless, no_restart>) == 128);
static_assert(sizeof(cell<layout_check::sixteen_bytes, std::tuple<>>) == 192,
              "16 B of actor state cost one cache line more");

namespace {

// -- system messages --------------------------------------------------------------

struct stop_request {
  stop_reason why;
};
struct child_terminated {
  cell_base* child;  // informational; the child has already unlinked itself
};

void noop_drop(envelope*, dead_letter_reason) noexcept {}

constexpr message_info stop_info{type_id<stop_request>(), "volley::stop", &noop_drop,
                                 sizeof(message_envelope<stop_request>), true};
constexpr message_info child_terminated_info{type_id<child_terminated>(),
                                             "volley::child_terminated", &noop_drop,
                                             sizeof(message_envelope<child_terminated>), true};

void finalize(cell_base* c, context& ctx);

void handle_stop(envelope* e, cell_base* c, context& ctx) {
  begin_stop(c, ctx, static_cast<message_envelope<stop_request>*>(e)->msg.why);
}

void handle_child_terminated(envelope*, cell_base* c, context& ctx) {
  cell_extras* ext = c->extras_if_any();
  bool stopping = c->state() == lifecycle::stopping;
  bool restarting = c->state() == lifecycle::alive && ext->restart_pending;
  if (!stopping && !restarting) return;
  std::size_t left;
  {
    detail::lock_guard lock(ext->mu);
    left = ext->child_count;
  }
  if (left != 0) return;
  if (stopping) {
    finalize(c, ctx);
  } else {
    finish_restart(c, ctx);
  }
}

std::string base36(std::uint64_t v) {
  constexpr std::string_view digits = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string s;
  do {
    s.insert(s.begin(), digits[v % digits.size()]);
    v /= digits.size();
  } while (v != 0);
  return s;
}

/// Returns whether the parent waits for its children to go (it is stopping
/// or restarting) and must be told (see the file comment).
bool unlink_from_parent(cell_base* c) {
  cell_base* parent = c->parent_;
  cell_extras* pext = parent->extras_if_any();
  detail::lock_guard lock(pext->mu);
  // From here until the cell is destroyed (cell_base::destroy) it counts on
  // its parent: path() walks parent_ on a dead cell too, and the chain up to
  // the root keeps the core alive (system_core.hpp). While linked it needs
  // no count, since a parent dies only after its children have unlinked;
  // here it is still linked, so the parent cannot be freed before this
  // add_ref. Taken at spawn instead, the count was the spawner's write to
  // the parent's line 0 per child: on fork-join creation the main thread
  // spawning under /user paid it while the workers' releases took the line.
  // The departed children share one count (cell_extras::departed_children):
  // relaxed, as add_ref is; the destroy that drops the count to 0 orders.
  //
  // /user's one mutex here and in attach_cell is where fork-join creation's
  // profile shows its children list (lock and unlock ~25% of the samples on
  // 1 worker once injected cells came in batches), but those samples are
  // mostly the store buffer draining at the first locked instruction: the
  // spawner has just written the new cell's lines, the worker the dying
  // cell's, and each core takes those lines from the other. Tried: 16
  // shards of /user's anonymous children, each with its own mutex and line,
  // keyed by id (so the spawner and the unlinking worker are nearly always
  // on different lines). Interleaved, bench preset, the 2-core VM at load
  // ~10, medians of 7 (injected cells taken in batches in both arms): 2
  // workers 1.54 M actors/s and 455 CPU-ns per actor with the one mutex,
  // 0.98 M and 481 ns with the shards; 1 worker (against 13f1289) 335 ->
  // 366 CPU-ns. Not kept: lines that move per actor move either way.
  // (Keyed by id, consecutive spawns and consecutive unlinks each visit
  // every shard in turn, so each access still finds its line on the other
  // core.) Tried since, same VM at load 5-8, bench preset, 2 workers,
  // interleaved against f059159:
  //   * glibc's adaptive mutex (spins before it sleeps): futex syscalls per
  //     1M actors 80,000 -> 1,500 and voluntary switches ~1,700 -> ~120, but
  //     actors/s 2.64 -> 1.23 M and 2.39 -> 1.20 M, CPU per actor 456 -> 546
  //     and 449 -> 540 ns (medians of 9 and 8 pairs). With three threads on
  //     two cores the owner is often preempted, and a spinner waits out its
  //     time slice where a sleeper hands the core over.
  //   * children appended oldest first (an unlink then writes the next
  //     child's line, which its own worker is about to run, and a spawn the
  //     last child's, which the spawner wrote itself): actors/s median
  //     ratio 1.10, 1.07 and 0.91 in three sets of 9-11 pairs, and the
  //     lock's share of the samples 21.8 / 20.9% against 22.8 / 20.2%
  //     (perf, two runs each): the misses are the lock word's own, 70% of
  //     pthread_mutex_lock's samples on the instruction after its CAS and
  //     81% of unlock's after its XCHG.
  //   * the spawner off the lock: anonymous children pushed on a lock-free
  //     stack (one CAS on a line only the spawner writes) and moved into
  //     the list by the first unlink that needs one of them, so once per
  //     backlog, not per actor. Main's lock samples went, but 80% of
  //     attach_cell's then sat after that CAS: what a locked instruction
  //     waits for there is the store buffer's writes of the new cell, not
  //     the lock word. Main ran further ahead (page faults 4,500-6,000 ->
  //     16,000-22,000 per run, colder cells for the workers), and the
  //     workers' walk of the stack missed once per cell: actors/s 2.19 ->
  //     1.54 M (median of 9 pairs), CPU per actor 523 -> 519 ns.
  //   * no link by the spawner at all (commit c7810c8, reverted): an
  //     anonymous top-level actor spawned from outside the workers was
  //     scheduled unlinked, its first activation linked it under /user, and
  //     /user's stop waited for per-spawner tallies besides its list. Main
  //     took no lock and wrote no shared line; link and unlink ran on the
  //     worker. Callgrind, 1 worker: 1,292 -> ~1,414 instructions per actor
  //     (the lock moved, and the adoption added ~49). Interleaved against
  //     80c2fab at load 6-9: 1 worker actors/s median ratio 0.86, 0.90,
  //     0.95, 1.02 (8-12 pairs each), 2 workers 0.98 and 0.73 (/user's
  //     mutex now crossed between the two workers twice per actor). At
  //     that load the process got ~0.28 CPU-s per ~0.7 s run on 1 worker,
  //     so the ratios are weak evidence; CPU per run did not drop (0.27 s
  //     base, 0.26-0.29 s new). VOLLEY_SCHED_STATS on 1 worker: the worker
  //     never ran out of work (3 searches, 0-1 parks per 1M actors) in
  //     either arm, and RSS reached 50-75 MB: the spawner runs 200k+ actors
  //     ahead, so the worker's per-actor cost sets the rate there.
  // So the spawner's cost here is its writes of fresh cells, whichever
  // locked instruction comes first after them.
  count_departed(pext->departed_children, *parent);  // departed_children.hpp
  if (c->prev_sibling_)
    c->prev_sibling_->next_sibling_ = c->next_sibling_;
  else
    pext->first_child = c->next_sibling_;
  if (c->next_sibling_) c->next_sibling_->prev_sibling_ = c->prev_sibling_;
  c->prev_sibling_ = c->next_sibling_ = nullptr;
  --pext->child_count;
  if (cell_extras* ext = c->extras_if_any(); ext && !ext->name.empty()) {
    pext->named_children.erase(ext->name);
  }
  return parent->state() != lifecycle::alive || pext->restart_pending;
}

void finalize(cell_base* c, context& ctx) {
  if (c->ops_->post_stop != nullptr && !c->actor_destroyed_) {
    try {
      c->ops_->post_stop(c, ctx);
    } catch (...) {
      std::fprintf(stderr, "volley: %s threw from post_stop; it stops anyway\n", c->path().c_str());
    }
  }
  cancel_all_timers(c);  // after post_stop, which might have started one
  discard_kept_messages(c);
  if (!c->actor_destroyed_) {
    c->ops_->destroy_actor(c);
    c->actor_destroyed_ = true;
  }
  cell_lifecycle::hold_for_activation(*c, ctx.holds_ref());
  cell_extras* ext = c->extras_if_any();
  if (ext != nullptr && ext->own_pool) {
    // A pinned actor's thread ends with it; late mail is drained by the
    // default pool (see cell_base::pool_).
    c->pool_.store(c->sys_->default_pool.get(), std::memory_order_relaxed);
    ext->own_pool->retire();
    c->sys_->adopt_retired_pool(std::move(ext->own_pool));
  }
  cell_lifecycle::mark_dead(*c);
  settle_watches(c);
  if (c->parent_ != nullptr) {
    cell_base* parent = c->parent_;
    if (unlink_from_parent(c)) {
      auto* msg = make_envelope<child_terminated>(&handle_child_terminated, &child_terminated_info,
                                                  child_terminated{c});
      parent->deliver_system(msg);
    }
    c->release();  // the parent's link
  } else {
    c->sys_->root_terminated();
  }
}

}  // namespace

// -- delivery ------------------------------------------------------------------------
// The steps are cell_lifecycle.hpp's; the hooks below are what they reach
// outside the cell.

void cell_hooks::dead_letter(cell_base& c, envelope* e) noexcept {
  dead_letter_after_stop(&c, e);
}

namespace {

/// admit()'s rare cases, out of line: inlined, their registers made every
/// local tell pay a three-register prologue (objdump, bench preset).
[[gnu::noinline]] bool admit_slow(cell_base& c, envelope* e) noexcept {
  cell_extras* ext = c.extras_if_any();
  if (c.direct_) {
    // Acquire: a stop that began before this send is seen, and its message
    // takes the mailbox to be dead-lettered there, as for any actor.
    if (c.state_.load(std::memory_order_acquire) == lifecycle::alive &&
        ext->direct(&c, e, ext->direct_state.get())) {
      retire(e);
      return false;
    }
    if (!c.bounded_) return true;
  }
  // relaxed: an admission count, not a publication (the push is that).
  if (ext->queued.fetch_add(1, std::memory_order_relaxed) >= ext->capacity) {
    ext->queued.fetch_sub(1, std::memory_order_relaxed);
    c.sys_->dead_letter(&c, e, dead_letter_reason::mailbox_full);
    discard(e, dead_letter_reason::mailbox_full);
    return false;
  }
  return true;
}

}  // namespace

bool cell_hooks::admit(cell_base& c, envelope* e) noexcept {
  if (!c.bounded_ && !c.direct_) [[likely]]
    return true;
  return admit_slow(c, e);
}

namespace {
/// The inline_turns whose capture is open on this thread, or nullptr.
/// Here, beside its one reader, so the test is a plain thread-pointer load
/// (no TLS wrapper call): the only cost schedule() pays when nothing is open.
thread_local inline_turns* capturing = nullptr;
/// Set while inline_turns::run runs activations on this thread.
thread_local bool running_inline = false;
}  // namespace

void cell_hooks::schedule(cell_base& c) noexcept {
  if (inline_turns* t = capturing; t != nullptr) [[unlikely]] {
    if (t->keep(c)) return;
  }
  c.pool()->schedule(&c);
}

void cell_base::deliver(envelope* e) noexcept {
  cell_lifecycle::deliver(*this, e);
}

void cell_base::deliver_chain(envelope* first, envelope* last) noexcept {
  cell_lifecycle::deliver_chain(*this, first, last);
}

void cell_base::deliver_system(envelope* e) noexcept {
  cell_lifecycle::deliver_system(*this, e);
}

void cell_base::schedule_after_unmark() noexcept {
  cell_lifecycle::schedule_after_unmark(*this);
}

void cell_base::deliver_directly(direct_fn fn, std::shared_ptr<void> state, direct_tell_fn tell) {
  cell_extras& ext = extras();
  ext.direct = fn;
  ext.direct_tell = tell;
  ext.direct_state = std::move(state);
  direct_ = true;  // published with the cell (attach_cell links it into the tree after this)
}

bool cell_base::tell_directly(const message_info* info, const void* payload,
                              cell_base* sender) noexcept {
  if (!direct_) return false;
  cell_extras* ext = extras_if_any();  // made before the cell was published (deliver_directly)
  // Acquire, as in admit_slow: a stop that began before this tell is seen,
  // and the tell takes the mailbox to be dead-lettered there.
  if (ext->direct_tell == nullptr || state_.load(std::memory_order_acquire) != lifecycle::alive)
    return false;
  return ext->direct_tell(this, info, payload, sender, ext->direct_state.get());
}

void retire(envelope* e) noexcept {
  if (e->sender != nullptr) e->sender->release();
  const message_info* info = e->info;
  if (info->alloc_size != 0) [[likely]] {
    envelope_free(e, info->alloc_size);
  } else {
    info->release_host(e);  // the envelope is part of a request (ask_from_actor.hpp)
  }
}

void discard(envelope* e, dead_letter_reason reason) noexcept {
  e->info->drop(e, reason);
  retire(e);
}

void dead_letter_after_stop(cell_base* c, envelope* e) noexcept {
  // stop_reason_ was written before the state left `alive`; both callers
  // read that state first (the activation itself, or deliver()'s acquire).
  dead_letter_reason reason = static_cast<stop_reason>(c->stop_reason_) == stop_reason::shutdown
                                  ? dead_letter_reason::system_shutdown
                                  : dead_letter_reason::recipient_stopped;
  // A terminated whose watcher stops too (a parent watching its children,
  // at every shutdown) is not a message anybody lost: not reported.
  if (e->info->id != type_id<terminated>()) c->sys_->dead_letter(c, e, reason);
  e->info->drop(e, reason);
}

void report_undeliverable_reply(cell_base* replier, envelope* request) noexcept {
  replier->sys_->dead_letter(replier, request, dead_letter_reason::reply_undeliverable);
}

void report_unhandled(cell_base* target, envelope* e) noexcept {
  target->sys_->dead_letter(target, e, dead_letter_reason::unhandled);
  discard(e, dead_letter_reason::unhandled);
}

// -- inline turns ----------------------------------------------------------------------

inline_turns::capture::capture(inline_turns& turns) noexcept : outer_(capturing) {
  capturing = &turns;
}

inline_turns::capture::~capture() {
  capturing = outer_;
}

bool inline_turns::keep(cell_base& c) noexcept {
  // The caller has just cleared the mark (the push's exchange is acq_rel):
  // the cell is ours, and so is reading what its last activation wrote.
  if (count_ == max_kept) return false;
  if (c.pool() != c.sys_->default_pool.get()) return false;
  if (c.state_.load(std::memory_order_acquire) != lifecycle::alive) return false;
  if (!c.started_ || c.suspended_ || c.failed_ || c.system_lane_.has_next()) return false;
  kept_[count_++] = &c;
  return true;
}

std::size_t inline_turns::run(unsigned budget) noexcept {
  // Nothing a handler sends is kept (a chain of inline turns would have no
  // bound); and a run inside a handler (a node's loop is never one) would
  // find its own cells already running.
  inline_turns* outer = std::exchange(capturing, nullptr);
  const bool was_running = std::exchange(running_inline, true);
  std::size_t ran = 0;
  for (; ran < count_; ++ran) {
    cell_base* c = kept_[ran];
    if (run_activation(c, budget, nullptr) == activation_end::more) c->pool()->schedule(c);
  }
  count_ = 0;
  running_inline = was_running;
  capturing = outer;
  return ran;
}

void inline_turns::release() noexcept {
  for (std::size_t i = 0; i < count_; ++i) kept_[i]->pool()->schedule(kept_[i]);
  count_ = 0;
}

bool in_inline_turn() noexcept {
  return running_inline;
}

// -- the tree ------------------------------------------------------------------------

cell_extras::~cell_extras() {
  delete timers;
  delete stable_path.load(std::memory_order_relaxed);
}

cell_base*& constructing_cell() noexcept {
  thread_local cell_base* c = nullptr;
  return c;
}

cell_extras& cell_base::extras() {
  cell_extras* ext = ext_.load(std::memory_order_acquire);
  if (ext != nullptr) return *ext;
  auto* made = new cell_extras();
  // acq_rel: publishes the new extras; on failure, acquire the winner's.
  if (ext_.compare_exchange_strong(ext, made, std::memory_order_acq_rel,
                                   std::memory_order_acquire)) {
    return *made;
  }
  delete made;
  return *ext;
}

const cell_path& cell_base::stable_path() {
  cell_extras& ext = extras();
  // Acquire: pairs with the CAS's release below, so the string is visible.
  if (const cell_path* p = ext.stable_path.load(std::memory_order_acquire)) return *p;
  static std::atomic<std::uint64_t> last_serial{0};
  // Relaxed: only uniqueness matters.
  std::uint64_t serial = last_serial.fetch_add(1, std::memory_order_relaxed) + 1;
  std::string path = local_path();
  std::string qualified = path;
  qualified += '#';
  qualified += std::to_string(serial);
  auto made = std::make_unique<cell_path>(cell_path{std::move(path), serial, std::move(qualified)});
  const cell_path* expected = nullptr;
  // acq_rel: publishes ours; on failure, acquire the winner's.
  if (ext.stable_path.compare_exchange_strong(expected, made.get(), std::memory_order_acq_rel,
                                              std::memory_order_acquire))
    return *made.release();
  return *expected;
}

std::string cell_base::name() const {
  if (cell_extras* ext = extras_if_any(); ext != nullptr && !ext->name.empty()) return ext->name;
  std::string s = "$";  // appended, not `"$" + ...`: see local_path()
  s += base36(id_);
  return s;
}

std::string cell_base::path() const {
  if (cell_extras* ext = extras_if_any(); ext != nullptr && !ext->display_path.empty())
    return ext->display_path;
  return local_path();
}

std::string cell_base::local_path() const {
  if (parent_ == nullptr) return "/";
  // Each segment is built by appending: `"/" + name` (operator+ on a
  // const char* and a string is an insert at 0) inlined here gave GCC 12 at
  // -O3 a -Wrestrict false positive (bench preset), a memcpy it could not
  // prove non-overlapping.
  std::string p;
  for (const cell_base* c = this; c->parent_ != nullptr; c = c->parent_) {
    std::string segment = "/";
    segment += c->name();
    p.insert(0, segment);
  }
  return p;
}

void cell_base::destroy() noexcept {
  // Dead, idle and drained by now (see the lifetime protocol in cell.hpp).
  cell_lifecycle::hand_back_stubs(*this);
  if (!actor_destroyed_) {
    ops_->destroy_actor(this);
    actor_destroyed_ = true;
  }
  delete ext_.load(std::memory_order_acquire);
  system_core* core = sys_;
  cell_base* parent = parent_;
  ops_->free_cell(this);
  // Our share of the departed children's count on the parent, taken at
  // unlink: path() walks the parent chain, also on a dead cell whose ref
  // outlived the system (the guardians would be gone). Only the root counts
  // on the core; the chain keeps the core alive for the rest
  // (system_core.hpp). The parent's release may end the chain, core included.
  if (parent != nullptr) {
    // The orders are argued in departed_children.hpp, and the steps checked
    // there (tests/checker/departed_children_checker_test.cpp).
    drop_departed(parent->extras_if_any()->departed_children, *parent);
  } else {
    core->release();
  }
}

// -- stopping -----------------------------------------------------------------------

void begin_stop(cell_base* c, context& ctx, stop_reason why) {
  if (!cell_lifecycle::begin_stop(*c, static_cast<std::uint8_t>(why))) return;
  std::vector<cell_base*> children;
  if (cell_extras* ext = c->extras_if_any()) {
    detail::lock_guard lock(ext->mu);
    for (cell_base* ch = ext->first_child; ch != nullptr; ch = ch->next_sibling_) {
      ch->add_ref();
      children.push_back(ch);
    }
  }
  if (children.empty()) {
    finalize(c, ctx);
    return;
  }
  for (cell_base* ch : children) {
    // Children stop because their parent does: killed and node_down are the
    // parent's fate, not theirs.
    send_stop(ch, why == stop_reason::killed || why == stop_reason::node_down ? stop_reason::stopped
                                                                              : why);
    ch->release();
  }
}

void send_stop(cell_base* target, stop_reason why) {
  auto* e = make_envelope<stop_request>(&handle_stop, &stop_info, stop_request{why});
  target->deliver_system(e);
}

void on_failure(cell_base* c, context& ctx, std::exception_ptr ex,
                std::string_view where) noexcept {
  report_failure(c, where, ex);
  try {
    // A guardian, or an actor already on its way out, has nobody to ask.
    bool supervised = c->parent_ != nullptr && c->parent_->parent_ != nullptr &&
                      c->state() == lifecycle::alive && !c->failed_;
    if (supervised) {
      escalate_to_parent(c, std::move(ex));
    } else {
      begin_stop(c, ctx, stop_reason::failed);
    }
  } catch (...) {
    std::fprintf(stderr,
                 "volley: could not hand the failure of %s to its supervisor; stopping it\n",
                 c->path().c_str());
    begin_stop(c, ctx, stop_reason::failed);
  }
}

void start_if_needed(cell_base* c, context& ctx) {
  if (c->started_) return;
  c->started_ = true;
  if (c->ops_->pre_start == nullptr || c->state() != lifecycle::alive) return;
  try {
    c->ops_->pre_start(c, ctx);
  } catch (...) {
    on_failure(c, ctx, std::current_exception(), "pre_start");
  }
}

void request_stop(context& ctx) noexcept {
  ctx.cell()->stop_requested_ = true;
}

}  // namespace volley::detail

namespace volley {

// -- refs and context ---------------------------------------------------------------

void detail::ref_base::stop() const {
  if (cell_base* c = cell()) detail::send_stop(c, detail::stop_reason::stopped);
}

void detail::ref_base::kill() const {
  if (cell_base* c = cell()) detail::send_stop(c, detail::stop_reason::killed);
}

void detail::ref_base::throw_empty() {
  throw std::logic_error("volley: send through an empty actor ref");
}

any_ref context::self() const {
  return any_ref(cell_);
}

any_ref context::sender() const {
  return current_ != nullptr ? any_ref(current_->sender) : any_ref();
}

void context::stop() {
  cell_->stop_requested_ = true;
}

volley::system& context::system() const {
  return *cell_->sys_->facade;
}

std::string context::path() const {
  return cell_->path();
}

}  // namespace volley
