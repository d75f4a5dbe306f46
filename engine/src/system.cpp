// engine/src/system.cpp — building, wiring and shutting down an actor system.
//
// Shutdown
// --------
// system_core::shutdown() (the system's destructor calls it; so may any
// thread, at most one at a time under shutdown_mu_) ends a system in five
// steps. Each step hands the right to touch some state from one party to
// the next:
//
//   1. `shutting_down` is set and the root guardian is sent a stop. From now
//      on spawn refuses (attach_cell reads the flag) and the tree stops from
//      the leaves up (cell.cpp): every actor runs post_stop on its own worker
//      and dies only after its children. Actor code still runs here.
//   2. The caller waits on `root_dead`, which the root's final activation
//      sets. Every actor is dead now, so no user code runs any more: a
//      message that reaches a cell from now on only becomes a dead letter
//      (deliver() answers a dead cell directly, and an activation of a dead
//      cell dead-letters whatever it finds). Called from an actor's own
//      handler, shutdown() returns before this step: a worker cannot wait
//      for the tree it is part of, and the destructor finishes the job.
//   3. The timer thread is stopped and joined; pending timers are dropped
//      (their counts released). No timer fires after this.
//   4. Each pool is told `stopping_` and its workers are woken; a worker
//      exits once it finds no work anywhere (work_visible()), so cells that
//      late senders scheduled meanwhile — outside threads, a remote node's
//      teardown — are still run, by the workers. The caller joins them.
//   5. drain_on_caller(): the pool's `joined_` is set, and the caller runs
//      what is left in the queues. From here on the workers are gone and a
//      late sender runs the cell it schedules itself, on its own thread
//      (scheduler.cpp, schedule() and drain_if_joined()): a sender that saw
//      `joined_` false before pushing looks again after its push, and a
//      seq_cst fence on each side makes either it or the drainer see that
//      push, so no cell is left in a queue nobody reads.
//
// Why it terminates: after step 2 an activation only consumes messages —
// dead-lettering sends nothing — so the work the workers can find shrinks
// to what late senders add, and each late send adds one activation. Step 5's
// drain loop ends the first time the queue is empty; only senders that read
// `joined_` before it was set can push after that, each at most once, and
// each of them runs its own push. What outlives shutdown is memory only:
// the core stays allocated while refs to its (dead) actors exist, and the
// last ref frees it.
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>

#if defined(VOLLEY_USE_JEMALLOC)
#include <jemalloc/jemalloc.h>
#endif

#include <volley/affinity/pinning.hpp>
#include <volley/engine/system.hpp>

#include "system_core.hpp"

namespace volley::detail {

namespace {

/// The guardians ("/" and "/user") handle nothing themselves; they exist to
/// be the parents that shutdown stops.
struct guardian {};

cell_base* make_guardian(system_core* core, cell_base* parent, const std::string& name) {
  void* mem = cell_alloc(sizeof(cell<guardian, no_restart>));
  auto* c = ::new (mem) cell<guardian, no_restart>(core, core->default_pool.get(),
                                                   &cell_ops_of<guardian, no_restart>, parent, 0);
  c->refs_.store(parent ? 2 : 1, std::memory_order_relaxed);  // core's count (+ parent link)
  c->extras().name = name;
  c->started_ = true;
  // The root's; the others count on their parent once unlinked (cell.cpp).
  if (parent == nullptr) core->add_ref();
  if (parent != nullptr) {
    cell_extras& pext = parent->extras();
    detail::lock_guard lock(pext.mu);
    c->next_sibling_ = pext.first_child;
    pext.first_child = c;
    ++pext.child_count;
    pext.named_children.emplace(c->extras().name, c);
  }
  return c;
}

// The most workers a pool may have. Not a limit of the scheduler's data
// structures (worker indices are unsigned) but a guard against a typo or a
// negative number cast to unsigned: each worker is a thread with its own
// stack and run queue, and 4096 is already well past the largest machines
// volley is meant for (and past the 128-core target of the scheduler's costs).
constexpr unsigned max_workers_per_pool = 4096;

void validate(const config& cfg) {
  if (cfg.throughput == 0) {
    throw std::invalid_argument(
        "volley config: throughput is 0; it must be at least 1 (default 64)");
  }
  if (cfg.workers > max_workers_per_pool) {
    throw std::invalid_argument("volley config: workers = " + std::to_string(cfg.workers) +
                                " is more than " + std::to_string(max_workers_per_pool) +
                                "; use 0 for one per core");
  }
  if (cfg.spin_before_park.count() < 0) {
    throw std::invalid_argument(
        "volley config: spin_before_park is negative; use 0 to park at once");
  }
  for (const auto& [name, p] : cfg.pools) {
    if (name.empty() || name == "default" || name == "pinned") {
      throw std::invalid_argument("volley config: pool name '" + name +
                                  "' is reserved or empty; choose another name");
    }
    if (p.pin) {
      throw std::invalid_argument("volley config: pool '" + name +
                                  "' asks for pin = true, but extra pools run unpinned; remove it");
    }
    if (p.workers == 0 || p.workers > max_workers_per_pool) {
      throw std::invalid_argument("volley config: pool '" + name + "' has " +
                                  std::to_string(p.workers) + " workers; use 1.." +
                                  std::to_string(max_workers_per_pool));
    }
  }
}

pool_settings settings_for(const config& cfg, std::string name, const affinity::topology* topo,
                           affinity::worker_plan plan) {
  pool_settings s;
  s.name = std::move(name);
  s.throughput = cfg.throughput;
  s.spin_before_park = cfg.spin_before_park;
  s.topology = topo;
  s.plan = std::move(plan);
  s.deterministic_seed = cfg.deterministic_seed;
  return s;
}

affinity::worker_plan unpinned_plan(unsigned workers) {
  affinity::worker_plan plan;
  for (unsigned i = 0; i < workers; ++i) {
    affinity::worker_slot slot;
    slot.index = i;
    for (unsigned j = 1; j < workers; ++j) slot.steal_order.push_back((i + j) % workers);
    plan.workers.push_back(std::move(slot));
  }
  plan.pinned = false;
  return plan;
}

}  // namespace

system_core::system_core(config c)
    : cfg((validate(c), std::move(c))),
      topology(affinity::topology::detect()),
      plan(affinity::make_plan(topology, affinity::plan_options{cfg.workers, cfg.cpus, cfg.pin})),
      letters(cfg.dead_letter_log_first, cfg.dead_letter_summary_interval) {
  timer_svc = std::make_unique<timer_service>(cfg.clock, !cfg.deterministic_seed.has_value());
  if (cfg.deterministic_seed) plan = unpinned_plan(1);  // no threads: one slot for run_one
  default_pool = std::make_unique<worker_pool>(this, settings_for(cfg, "default", &topology, plan));
  for (const auto& [name, p] : cfg.pools) {
    if (cfg.deterministic_seed) break;  // one thread runs everything
    named_pools.emplace(name,
                        std::make_unique<worker_pool>(
                            this, settings_for(cfg, name, nullptr, unpinned_plan(p.workers))));
  }
  root = make_guardian(this, nullptr, "");
  user = make_guardian(this, root, "user");
  default_pool->start();
  for (auto& [name, p] : named_pools) p->start();
}

system_core::~system_core() = default;

worker_pool* system_core::pool_named(const std::string& name) {
  if (name.empty() || name == "default") return default_pool.get();
  if (cfg.deterministic_seed && (name == "pinned" || cfg.pools.count(name) != 0)) {
    return default_pool.get();
  }
  auto it = named_pools.find(name);
  if (it != named_pools.end()) return it->second.get();
  std::string known = "default, pinned";
  for (const auto& [n, p] : named_pools) known += ", " + n;
  throw std::invalid_argument("volley: no dispatcher named '" + name + "'; configured: " + known +
                              " (add it to config::pools)");
}

std::unique_ptr<worker_pool> system_core::make_pinned_pool() {
  {
    // Reap the threads of pinned actors that have died since.
    detail::lock_guard lock(retired_mu_);
    retired_pools_.clear();  // each destructor joins an already finished thread
  }
  auto s = settings_for(cfg, "pinned", nullptr, unpinned_plan(1));
  s.retire_when_idle = true;
  return std::make_unique<worker_pool>(this, std::move(s));
}

void system_core::adopt_retired_pool(std::unique_ptr<worker_pool> p) {
  detail::lock_guard lock(retired_mu_);
  retired_pools_.push_back(std::move(p));
}

void system_core::dead_letter(cell_base* recipient, const envelope* e,
                              dead_letter_reason reason) noexcept {
  if (!letters.wants_details()) {
    letters.count_only(reason);
    return;
  }
  try {
    volley::dead_letter d;
    d.sender = e->sender != nullptr ? e->sender->path() : std::string();
    d.recipient = recipient != nullptr ? recipient->path() : std::string();
    d.type = std::string(e->info->name);
    d.reason = reason;
    letters.publish(std::move(d));
  } catch (...) {
    letters.count_only(reason);  // out of memory for the report: count it at least
  }
}

void system_core::root_terminated() noexcept {
  root_dead.store(1, std::memory_order_release);
  futex_wake_all(root_dead);
}

void system_core::shutdown() {
  detail::lock_guard lock(shutdown_mu_);
  if (joined_) return;
  if (!shutting_down.exchange(true)) send_stop(root, stop_reason::shutdown);
  if (on_worker_thread()) return;  // asked from inside an actor: the destructor finishes it
  if (cfg.deterministic_seed) {
    // Nobody else runs actors: stop them from here.
    while (root_dead.load(std::memory_order_acquire) == 0) {
      timer_svc->poll();
      if (!default_pool->run_one()) break;  // a stop that cannot complete would hang: give up
    }
  }
  while (root_dead.load(std::memory_order_acquire) == 0) {
    futex_wait_until(root_dead, 0, std::nullopt);
  }
  timer_svc->stop();
  default_pool->stop_and_join();
  for (auto& [name, p] : named_pools) p->stop_and_join();
  {
    detail::lock_guard rlock(retired_mu_);
    for (auto& p : retired_pools_) p->stop_and_join();
  }
  // Sends that raced with the end (to actors that are dead by now) may have
  // scheduled cells after the workers left: dead-letter them here.
  default_pool->drain_on_caller();
  for (auto& [name, p] : named_pools) p->drain_on_caller();
  letters.flush_log();
  joined_ = true;
}

// -- spawning --------------------------------------------------------------------------

std::uint64_t next_actor_id(system_core* core) noexcept {
  return core->next_id.fetch_add(1, std::memory_order_relaxed);
}

cell_base* user_guardian(system_core* core) noexcept {
  return core->user;
}

namespace {
// The longest actor name. A guard, like max_workers_per_pool, not a limit of
// a data structure: a name is one segment of a path that remote nodes carry
// (remote::wire::default_max_path_length, 1 KiB), and a 255-byte segment
// still leaves room for the guardians and a few levels of parents.
constexpr std::size_t max_actor_name_length = 255;

void check_name(const std::string& name) {
  if (name.empty()) return;
  if (name.size() > max_actor_name_length)
    throw std::invalid_argument("volley: actor name longer than " +
                                std::to_string(max_actor_name_length) + " characters");
  if (name.front() == '$') {
    throw std::invalid_argument("volley: actor name '" + name +
                                "' starts with '$', which is kept for anonymous actors");
  }
  // '#' separates a path from an incarnation where remote nodes name a
  // sender (remote/PROTOCOL.md, "Senders").
  if (name.find_first_of("/*#") != std::string::npos) {
    throw std::invalid_argument("volley: actor name '" + name + "' contains '/', '*' or '#'");
  }
}
}  // namespace

void attach_cell(system_core* core, cell_base* c, cell_base* parent, const props& p) {
  std::unique_ptr<worker_pool> own_pool;
  // The pool to pace a spawner for, if it outlives the cell: not a pinned
  // dispatcher's own, which the cell's end may free.
  worker_pool* shared_pool = nullptr;
  try {
    if (core->shutting_down.load(std::memory_order_acquire)) {
      throw std::logic_error("volley: spawn on an actor system that is shutting down");
    }
    check_name(p.name);
    worker_pool* pool;
    // Most spawns name no dispatcher: no string compare, no call (fork-join
    // creation, callgrind: pool_named was 20 instructions of each spawn).
    if (p.dispatcher.empty()) {
      pool = core->default_pool.get();
    } else if (p.dispatcher == "pinned" && !core->cfg.deterministic_seed) {
      own_pool = core->make_pinned_pool();
      pool = own_pool.get();
    } else {
      pool = core->pool_named(p.dispatcher);
    }
    c->pool_.store(pool, std::memory_order_relaxed);
    if (!own_pool) shared_pool = pool;
    // Everything the cell's own worker will read is written before the cell
    // is linked into the tree: from then on select() can find it and any
    // thread can send to it.
    if (c->ops_->pre_start == nullptr) c->started_ = true;
    if (own_pool) c->extras().own_pool = std::move(own_pool);
    if (!p.name.empty()) c->extras().name = p.name;
    if (p.mailbox_capacity > 0) {
      c->extras().capacity = p.mailbox_capacity;
      c->bounded_ = true;
      c->worker_bounded_ = true;
    }
    install_mailbox(c, p.mailbox);  // priority, control-aware (sorted_mailbox.cpp)
    cell_extras& pext = parent->extras();
    detail::lock_guard lock(pext.mu);
    if (parent->state() != lifecycle::alive) {
      throw std::logic_error("volley: spawn of a child of " + parent->path() +
                             ", which is stopping or stopped");
    }
    if (!p.name.empty()) {
      auto [it, inserted] = pext.named_children.emplace(c->extras().name, c);
      if (!inserted) {
        throw std::invalid_argument("volley: an actor named '" + p.name +
                                    "' already exists under " + parent->path());
      }
    }
    c->next_sibling_ = pext.first_child;
    if (pext.first_child != nullptr) pext.first_child->prev_sibling_ = c;
    pext.first_child = c;
    ++pext.child_count;
    // No count on the parent yet: a parent outlives its linked children
    // (it dies after them); the child counts on it from its unlink on.
  } catch (...) {
    // Never published: undo the construction by hand.
    c->ops_->destroy_actor(c);
    delete c->ext_.load(std::memory_order_relaxed);
    c->ops_->free_cell(c);
    throw;
  }
  if (cell_extras* ext = c->extras_if_any(); ext != nullptr && ext->own_pool) {
    ext->own_pool->start();
  }
  if (c->ops_->pre_start != nullptr) {
    // pre_start runs on the actor's worker, before any message.
    if (c->mailbox_.signal()) c->schedule_after_unmark();
  }
  // A spawner outside the workers that runs far ahead of them yields now
  // and then (scheduler.cpp, "Run-ahead"). Not in deterministic mode: no
  // workers there to yield to.
  if (shared_pool != nullptr && !on_worker_thread() && !core->cfg.deterministic_seed) {
    shared_pool->pace_outside_spawner();
  }
}

}  // namespace volley::detail

namespace volley {

system::system(config cfg) : core_(new detail::system_core(std::move(cfg))) {
  core_->facade = this;
}

system::~system() {
  shutdown();
  // Release the guardians and our own count; the core lives on while refs
  // to (dead) actors do.
  core_->root->release();
  core_->user->release();
  core_->release();
}

void system::shutdown() {
  core_->shutdown();
}

std::size_t system::run_until_idle() {
  if (!core_->cfg.deterministic_seed) {
    throw std::logic_error("volley: run_until_idle() needs config::deterministic_seed");
  }
  std::size_t n = 0;
  for (;;) {
    core_->timer_svc->poll();
    if (!core_->default_pool->run_one()) break;
    ++n;
  }
  return n;
}

bool system::step() {
  if (!core_->cfg.deterministic_seed) {
    throw std::logic_error("volley: step() needs config::deterministic_seed");
  }
  core_->timer_svc->poll();
  return core_->default_pool->run_one();
}

volley::dead_letters& system::dead_letters() noexcept {
  return core_->letters;
}

const volley::config& system::configuration() const noexcept {
  return core_->cfg;
}

unsigned system::worker_count() const noexcept {
  return core_->default_pool->size();
}

const std::string& system::pinning_note() const noexcept {
  return core_->plan.note;
}

namespace {
/// "/" or "/a/b" (a trailing '/' is allowed): a leading '/' and no empty
/// segment inside ("//user", "/user//a" would otherwise skip to a guardian).
bool well_formed_path(std::string_view path) noexcept {
  return !path.empty() && path.front() == '/' && path.find("//") == std::string_view::npos;
}
}  // namespace

std::vector<any_ref> system::select_all(std::string_view pattern) const {
  if (!well_formed_path(pattern)) return {};
  std::vector<std::string_view> segments;
  for (std::size_t pos = 1; pos <= pattern.size();) {
    std::size_t end = pattern.find('/', pos);
    if (end == std::string_view::npos) end = pattern.size();
    if (end > pos) segments.push_back(pattern.substr(pos, end - pos));
    pos = end + 1;
  }
  std::vector<any_ref> level{any_ref(core_->root)};
  for (std::string_view segment : segments) {
    std::vector<any_ref> next;
    for (const any_ref& r : level) {
      detail::cell_extras* ext = r.cell()->extras_if_any();
      if (ext == nullptr) continue;
      detail::lock_guard lock(ext->mu);
      for (auto* ch = ext->first_child; ch != nullptr; ch = ch->next_sibling_) {
        if (segment == "*" || ch->name() == segment) next.emplace_back(ch);
      }
    }
    level = std::move(next);
  }
  if (segments.empty() || pattern.empty() || pattern.front() != '/') return {};
  return level;
}

any_ref system::select(std::string_view path) const {
  if (!well_formed_path(path)) {
    return any_ref::nobody_at(path,
                              "malformed path: it must start with '/' and have no empty "
                              "segment such as '//'");
  }
  detail::cell_base* c = core_->root;
  c->add_ref();
  std::size_t pos = 1;
  while (pos < path.size()) {
    std::size_t end = path.find('/', pos);
    if (end == std::string_view::npos) end = path.size();
    std::string_view segment = path.substr(pos, end - pos);
    pos = end + 1;
    if (segment.empty()) continue;
    detail::cell_base* next = nullptr;
    if (detail::cell_extras* ext = c->extras_if_any()) {
      detail::lock_guard lock(ext->mu);
      auto it = ext->named_children.find(segment);
      if (it != ext->named_children.end()) {
        next = it->second;
      } else if (segment.front() == '$') {
        for (auto* ch = ext->first_child; ch != nullptr; ch = ch->next_sibling_) {
          if (ch->name() == segment) {
            next = ch;
            break;
          }
        }
      }
      if (next != nullptr) next->add_ref();
    }
    c->release();
    if (next == nullptr) return any_ref::nobody_at(path, "nothing is there");
    c = next;
  }
  return any_ref(detail::adopt, c);
}

}  // namespace volley

#if defined(VOLLEY_USE_JEMALLOC)  // not a sanitizer build (engine/CMakeLists.txt)
// jemalloc's options for every process that links the engine (README.md,
// "Allocator"). jemalloc reads `malloc_conf` at its first allocation, then
// the MALLOC_CONF environment variable, whose options win; a program that
// defines its own `malloc_conf` replaces this one, which is weak for that.
//
// oversize_threshold:0 takes blocks of 8 MiB and more out of jemalloc's
// separate arena for them, which gives their pages back to the kernel as
// soon as they are freed. Actors hand large payloads from thread to thread,
// and there each free handed the pages back that the next send faulted in
// again: quicksort (4 M values, vectors of up to 32 MiB split and joined
// between actors) on the 2-core VM, 2 workers, 3 interleaved pairs: 1.26 -
// 1.39 s and ~127 k page faults per run by default, 0.70 - 0.98 s and
// 68 - 85 k with this option, about what CAF on glibc's malloc takes (0.89 -
// 1.00 s, 84 - 88 k; CAF with jemalloc preloaded took 1.23 - 1.27 s). Peak
// RSS rose 166 - 174 -> 191 - 258 MB: freed blocks now wait out jemalloc's
// decay (10 s by default) like smaller ones. No other workload of the suite
// allocates blocks that large, and none moved. Transparent huge pages for
// jemalloc's memory (thp:always) halved quicksort again, but would stall an
// allocation on the kernel's compaction, which a latency-sensitive service
// cannot take by default (as for envelope chunks, chunk_source.hpp).
extern "C" {
// NOLINTNEXTLINE: jemalloc's interface is this mutable global.
__attribute__((weak)) const char* malloc_conf = "oversize_threshold:0";
}

namespace {
// jemalloc 5.3 (Debian 12's) creates arena 0, the main thread's, before it
// reads oversize_threshold, so that arena alone still purges every freed
// block of 8 MiB and more at once (a 16 MiB block freed and allocated again
// on the main thread faulted all 4,096 of its pages each time; on any other
// thread, none). Where the option above is in effect, arena 0 is given the
// same rule. Where a program's own options set a threshold, they decide.
[[maybe_unused]] const bool arena_zero_follows_option = [] {
  std::size_t threshold = 1;
  std::size_t size = sizeof threshold;
  if (mallctl("opt.oversize_threshold", &threshold, &size, nullptr, 0) != 0 || threshold != 0)
    return false;
  std::size_t never = std::numeric_limits<std::size_t>::max();
  return mallctl("arena.0.oversize_threshold", nullptr, nullptr, &never, sizeof never) == 0;
}();
}  // namespace
#endif
