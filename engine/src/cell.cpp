// engine/src/cell.cpp — delivery, the actor tree, and how actors stop.
//
// Stopping, in order (all inside the stopping actor's own activation):
//   1. state alive -> stopping; every child is sent a stop;
//   2. each child, when it has died, counts itself out of its parent, and the
//      last one sends the parent `child_terminated` — only to a parent that
//      waits for its children (stopping, or restarting), which it sets in the
//      same atomic word as the count (see "The children" below). A living
//      parent that waits for nothing gets no message: on fork-join creation
//      (1M actors spawned under /user, each stops after one message) every
//      death cost the guardian an envelope, a system-lane push and an
//      activation, for nothing;
//   3. when no child is left: post_stop, the actor object is destroyed, state
//      -> dead, the cell unlinks from its parent and tells it; messages still
//      queued and any sent later become dead letters (reason: recipient
//      stopped).
// So post_stop runs for children before their parent, and no actor dies
// before its whole subtree has.
//
// The children
// ------------
// A parent's children sit on a singly linked list, oldest first
// (cell_extras::first_child, last_child, cell_base::next_sibling_). Spawns
// count up cell_extras::spawned (2 per child; bit 0 closes it), deaths count
// up cell_extras::died, on another cache line. Neither a spawn nor a death of
// an anonymous child takes the parent's mutex, and neither writes the line
// the other writes: on fork-join creation (1M actors under /user, each stops
// after one message) the spawning thread and the dying workers locked
// /user's mutex once each per actor, and pthread lock + unlock were 18% of
// the samples (perf, bench preset, 2 workers); one shared count in its place
// still cost the spawner 7% in the miss of its CAS.
//   - Spawn: spawned goes up by 2 in a CAS that refuses once bit 0 is set
//     (the parent waits: no child may join); then the cell is appended as to
//     an intrusive MPSC queue: last_child is exchanged, then the old last
//     one's next_sibling_ (or first_child) is pointed at it. A named child
//     also enters the name index under mu.
//   - Death (finalize): a named child leaves the index under mu; gone_ is
//     set; died goes up by 1. The dead child stays on the list, holding the
//     parent's link count, until a sweep.
//   - Waiting (begin_stop, restart): the parent sets bit 0 of spawned by
//     fetch_or, which gives the final number of children S, then adds
//     deaths_awaited - S to died. From then on died equals deaths_awaited
//     exactly when all S have died, and whoever takes it there acts: the
//     parent itself (all had died before its add), or the last child, which
//     sends child_terminated. So a parent that waits gets exactly one
//     message, and a living parent that waits for nothing gets none. Between
//     the two steps the parent collects its living children under mu and
//     sends each a stop; the walk waits for a spawn that has exchanged
//     last_child but not linked yet. A spawn that counted itself in before
//     bit 0 but exchanged last_child after the walk ended would be missed,
//     so a spawner reads spawned again after linking and stops its child
//     itself when bit 0 is set. These steps are seq_cst: either the
//     spawner's second read sees the bit, or its exchange precedes the
//     parent's fetch_or and so the walk's read of last_child. A child may be
//     sent two stops; the second finds it stopping already.
//   - Sweep: only under mu, so one sweeper at a time and no walker meanwhile.
//     It walks from the oldest child and unlinks gone ones by pointing their
//     predecessor's link past them; a node whose next_sibling_ is still null
//     stays (it is the newest, or a spawn is about to link behind it and
//     will write its next_sibling_), so a spawn never writes into a swept
//     node. It stops once it has removed as many as were counted dead:
//     children mostly die in the order they were spawned, so it walks little
//     more than the dead, which died lately and are still in cache. A child
//     that dies sweeps when the dead on the list are at least sweep_at_least
//     and an eighth of the living the last sweep walked past, if try_lock
//     gets the mutex; a parent unlinks all once every child has died
//     (finalize, the end of a restart). The swept lose their link count
//     after the unlock, so their cells are freed in batches and the parent's
//     and the core's counts (which each cell holds) move once per sweep.
// Walkers (select, select_all, supervision) skip dead children, so what they
// see is exact: a child is listed from its spawn until it is marked dead.
#include <cstddef>
#include <cstdio>
#include <exception>
#include <string>
#include <thread>

#include <volley/engine/actor_ref.hpp>
#include <volley/engine/detail/cell.hpp>
#include <volley/engine/system.hpp>

#include <volley/engine/detail/timer.hpp>

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

namespace {

// cell_extras::spawned and died (see "The children"): bit 0 of spawned once
// the parent waits, the count above it; the mark the parent adds to died.
constexpr std::uint64_t spawns_closed = 1;
constexpr std::uint64_t one_spawn = 2;
constexpr std::int64_t deaths_awaited = std::int64_t{1} << 62;

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

void release_all_children(cell_base* parent);
void reopen_children(cell_base* parent);

/// The last waited-for child has died (see "The children": sent once).
void handle_child_terminated(envelope*, cell_base* c, context& ctx) {
  cell_extras* ext = c->extras_if_any();
  if (c->state() == lifecycle::stopping) {
    finalize(c, ctx);
  } else if (c->state() == lifecycle::alive && ext->restart_pending) {
    reopen_children(c);
    finish_restart(c, ctx);
  }
}

std::string base36(std::uint64_t v) {
  std::string s;
  do {
    s.insert(s.begin(), "0123456789abcdefghijklmnopqrstuvwxyz"[v % 36]);
    v /= 36;
  } while (v != 0);
  return s;
}

/// Dead children a list may hold before a dying sibling sweeps it (and at
/// least an eighth of the living: then a sweep that has to walk the whole
/// list still costs at most 9 visits per death). Small enough that the dead
/// (a cell each) are still in the sweeper's cache, large enough that a small
/// family does not lock at every death. Picked, not tuned.
constexpr std::int64_t sweep_at_least = 64;

/// Unlinks up to `want` gone children, oldest first (see "The children");
/// returns them chained through next_sibling_, for release_chain() after
/// the unlock.
cell_base* sweep_gone(cell_extras& ext, std::int64_t want) VOLLEY_REQUIRES(ext.mu) {
  cell_base* removed = nullptr;
  std::int64_t n = 0;
  std::int64_t past = 0;
  std::atomic<cell_base*>* link = &ext.first_child;
  for (cell_base* ch = link->load(std::memory_order_acquire); ch != nullptr && n < want;) {
    // acquire: pairs with the link's release store in push_child.
    cell_base* next = ch->next_sibling_.load(std::memory_order_acquire);
    if (next == nullptr) break;  // the newest, or a spawn is linking behind it
    // acquire: pairs with the release in leave_parent, so the dead child's
    // last writes happen before its link count goes.
    if (ch->gone_.load(std::memory_order_acquire)) {
      link->store(next, std::memory_order_relaxed);  // walkers read it under mu too
      ch->next_sibling_.store(removed, std::memory_order_relaxed);
      removed = ch;
      ++n;
    } else {
      link = &ch->next_sibling_;
      ++past;
    }
    ch = next;
  }
  ext.unswept.fetch_sub(n, std::memory_order_relaxed);
  ext.swept_past.store(past, std::memory_order_relaxed);
  return removed;
}

/// Drops the parent's link counts of swept children (outside the parent's
/// mutex: a release may destroy a cell, and its memory goes back to the pool).
void release_chain(cell_base* ch) noexcept {
  while (ch != nullptr) {
    cell_base* next = ch->next_sibling_.load(std::memory_order_relaxed);
    ch->release();
    ch = next;
  }
}

/// Every child has died (the count is zero and no spawn can join): unlink
/// and release them all.
void release_all_children(cell_base* parent) {
  cell_extras* ext = parent->extras_if_any();
  if (ext == nullptr) return;
  cell_base* all;
  {
    // Every child counted in has died, so none is between its count and
    // its link: the list is whole.
    detail::lock_guard lock(ext->mu);
    all = ext->first_child.exchange(nullptr, std::memory_order_acquire);
    ext->last_child.store(nullptr, std::memory_order_relaxed);
    std::int64_t n = 0;
    for (cell_base* ch = all; ch != nullptr; ch = ch->next_sibling_.load(std::memory_order_relaxed))
      ++n;
    ext->unswept.fetch_sub(n, std::memory_order_relaxed);
  }
  release_chain(all);
}

/// A restarting parent whose children have all died: unlink them and let
/// the new instance spawn again. Plain stores: nobody else spawns under this
/// parent (only its own activation does; guardians never restart), and every
/// child has counted its death.
void reopen_children(cell_base* parent) {
  release_all_children(parent);
  cell_extras* ext = parent->extras_if_any();
  ext->died.store(0, std::memory_order_relaxed);
  ext->spawned.store(0, std::memory_order_relaxed);
}

/// The child's side of its death (see "The children"): leave the name index
/// and the count, tell a waiting parent, and sweep now and then.
void leave_parent(cell_base* c) {
  cell_base* parent = c->parent_;
  cell_extras* pext = parent->extras_if_any();
  if (cell_extras* ext = c->extras_if_any(); ext && !ext->name.empty()) {
    detail::lock_guard lock(pext->mu);
    pext->named_children.erase(ext->name);
  }
  // release: a sweeper that sees gone_ (acquire) may free this cell.
  c->gone_.store(true, std::memory_order_release);
  // acq_rel: the parent that is told (below) sees this child's whole life.
  if (pext->died.fetch_add(1, std::memory_order_acq_rel) + 1 == deaths_awaited) {
    auto* msg = make_envelope<child_terminated>(&handle_child_terminated, &child_terminated_info,
                                                child_terminated{c});
    parent->deliver_system(msg);
  }
  std::int64_t dead = pext->unswept.fetch_add(1, std::memory_order_relaxed) + 1;
  if (dead >= sweep_at_least && dead >= pext->swept_past.load(std::memory_order_relaxed) / 8 &&
      pext->mu.try_lock()) {
    cell_base* removed = sweep_gone(*pext, dead);
    pext->mu.unlock();
    release_chain(removed);
  }
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
  release_all_children(c);  // all dead by now; their link counts
  if (c->parent_ != nullptr) {
    leave_parent(c);  // the parent's sweep drops our link count
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

bool cell_hooks::admit(cell_base& c, envelope* e) noexcept {
  if (!c.bounded_) return true;
  // relaxed: an admission count, not a publication (the push is that).
  cell_extras* ext = c.extras_if_any();
  if (ext->queued.fetch_add(1, std::memory_order_relaxed) >= ext->capacity) {
    ext->queued.fetch_sub(1, std::memory_order_relaxed);
    c.sys_->dead_letter(&c, e, dead_letter_reason::mailbox_full);
    discard(e, dead_letter_reason::mailbox_full);
    return false;
  }
  return true;
}

void cell_hooks::schedule(cell_base& c) noexcept {
  c.pool()->schedule(&c);
}

void cell_base::deliver(envelope* e) noexcept {
  cell_lifecycle::deliver(*this, e);
}

void cell_base::deliver_system(envelope* e) noexcept {
  cell_lifecycle::deliver_system(*this, e);
}

void cell_base::schedule_after_unmark() noexcept {
  cell_lifecycle::schedule_after_unmark(*this);
}

void retire(envelope* e) noexcept {
  if (e->sender != nullptr) e->sender->release();
  envelope_free(e, e->info->alloc_size);
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

// -- the tree ------------------------------------------------------------------------

cell_extras::~cell_extras() {
  delete timers;
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

std::string cell_base::name() const {
  if (cell_extras* ext = extras_if_any(); ext != nullptr && !ext->name.empty()) return ext->name;
  return "$" + base36(id_);
}

std::string cell_base::path() const {
  if (cell_extras* ext = extras_if_any(); ext != nullptr && !ext->display_path.empty())
    return ext->display_path;
  return local_path();
}

std::string cell_base::local_path() const {
  if (parent_ == nullptr) return "/";
  std::string p;
  for (const cell_base* c = this; c->parent_ != nullptr; c = c->parent_) {
    p.insert(0, "/" + c->name());
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
  // Our count on the parent: path() walks the parent chain, also on a dead
  // cell whose ref outlived the system (the guardians would be gone).
  if (parent != nullptr) parent->release();
  core->release();
}

// -- stopping -----------------------------------------------------------------------

namespace {
/// The next child on the list after `at` (nullptr: the first), waiting for a
/// spawn that has taken the last place but not linked it yet. seq_cst: see
/// "The children" (begin_stop's walk must see every child counted in before
/// it set the wait bit, or that child's spawner must see the bit).
cell_base* next_child(cell_extras& ext, cell_base* at) VOLLEY_REQUIRES(ext.mu) {
  std::atomic<cell_base*>& link = at == nullptr ? ext.first_child : at->next_sibling_;
  cell_base* next = link.load(std::memory_order_seq_cst);
  while (next == nullptr && ext.last_child.load(std::memory_order_seq_cst) != at) {
    std::this_thread::yield();  // two stores apart: the spawner is about to link
    next = link.load(std::memory_order_seq_cst);
  }
  return next;
}
}  // namespace

std::vector<cell_base*> living_children(cell_base* parent) {
  std::vector<cell_base*> out;
  if (cell_extras* ext = parent->extras_if_any()) {
    detail::lock_guard lock(ext->mu);
    for (cell_base* ch = next_child(*ext, nullptr); ch != nullptr; ch = next_child(*ext, ch)) {
      if (ch->is_dead()) continue;
      ch->add_ref();
      out.push_back(ch);
    }
  }
  return out;
}

/// Why a child stops when its parent does: killed and node_down are the
/// parent's fate, not theirs; a restarting parent's children just stop.
stop_reason child_stop_reason(const cell_base* parent) noexcept {
  if (parent->state() == lifecycle::alive) return stop_reason::stopped;
  auto why = static_cast<stop_reason>(parent->stop_reason_);
  return why == stop_reason::killed || why == stop_reason::node_down ? stop_reason::stopped : why;
}

bool stop_children(cell_base* c) {
  cell_extras* ext = c->extras_if_any();
  // No extras: it never had a child, and only its own activation (this one)
  // could spawn one.
  if (ext == nullptr) return false;
  // seq_cst: see "The children" (a spawn racing with this).
  std::uint64_t before = ext->spawned.fetch_or(spawns_closed, std::memory_order_seq_cst);
  stop_reason why = child_stop_reason(c);
  for (cell_base* ch : living_children(c)) {
    send_stop(ch, why);
    ch->release();
  }
  // Already waiting (a stop during a restart): the last death still tells us.
  if ((before & spawns_closed) != 0) return true;
  // From now on died reaches deaths_awaited exactly when the last of the
  // `spawned` children has died; whoever takes it there acts.
  auto spawned = static_cast<std::int64_t>(before / one_spawn);
  std::int64_t deaths = ext->died.fetch_add(deaths_awaited - spawned, std::memory_order_acq_rel);
  if (deaths != spawned) return true;                      // the last one to die says so
  if (c->state() == lifecycle::alive) reopen_children(c);  // a restart without children
  return false;
}
void begin_stop(cell_base* c, context& ctx, stop_reason why) {
  if (!cell_lifecycle::begin_stop(*c, static_cast<std::uint8_t>(why))) return;
  if (!stop_children(c)) finalize(c, ctx);
}

bool count_in_child(cell_base* parent) noexcept {
  cell_extras& pext = *parent->extras_if_any();
  std::uint64_t w = pext.spawned.load(std::memory_order_relaxed);
  do {
    if ((w & spawns_closed) != 0) return false;
    // seq_cst: see "The children".
  } while (!pext.spawned.compare_exchange_weak(w, w + one_spawn, std::memory_order_seq_cst,
                                               std::memory_order_relaxed));
  return true;
}

void push_child(cell_base* parent, cell_base* c) {
  cell_extras& pext = *parent->extras_if_any();
  // seq_cst: see "The children". The old last child cannot be swept before
  // we link it (its next_sibling_ is null), nor freed (it holds its link).
  cell_base* before = pext.last_child.exchange(c, std::memory_order_seq_cst);
  // release: publishes the cell to walkers and sweepers (their acquire).
  (before == nullptr ? pext.first_child : before->next_sibling_)
      .store(c, std::memory_order_release);
  if ((pext.spawned.load(std::memory_order_seq_cst) & spawns_closed) != 0) {
    send_stop(c, child_stop_reason(parent));  // the parent's walk may have missed us
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
