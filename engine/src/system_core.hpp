// engine/src/system_core.hpp — the shared state behind a volley::system.
//
// The core outlives the `system` object while any cell does: refs to
// stopped actors may be kept by user code after the system is gone, and a
// send through them must still reach dead letters. The system object and the
// root guardian hold a count on the core; every other cell holds one on its
// parent from its unlink until it is destroyed (cell.cpp; a linked child's
// parent cannot die before it), so the chain up to the root keeps the core
// alive. A spawned cell counting on the core
// as well was a second pair of shared-line updates per actor, on the line
// the spawner writes for next_id: fork-join creation's workers released it
// while the main thread spawned.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <volley/affinity/topology.hpp>
#include <volley/affinity/worker_plan.hpp>
#include <volley/engine/config.hpp>
#include <volley/engine/dead_letters.hpp>
#include <volley/engine/detail/cell.hpp>
#include <volley/engine/detail/thread_safety.hpp>

#include "scheduler.hpp"
#include "timer_service.hpp"

namespace volley::detail {

/// Why an actor stopped (cell_base::stop_reason_).
enum class stop_reason : std::uint8_t { stopped = 0, killed, failed, shutdown, node_down };

class system_core {
 public:
  explicit system_core(config cfg);
  ~system_core();

  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  /// Count a dead letter and, when someone wants the details, report them.
  void dead_letter(cell_base* recipient, const envelope* e, dead_letter_reason reason) noexcept;

  worker_pool* pool_named(const std::string& name);  // throws std::invalid_argument
  std::unique_ptr<worker_pool> make_pinned_pool();
  void adopt_retired_pool(std::unique_ptr<worker_pool> p);

  void root_terminated() noexcept;
  timer_service& timers() noexcept { return *timer_svc; }
  void shutdown();

  config cfg;
  affinity::topology topology;
  affinity::worker_plan plan;
  volley::dead_letters letters;
  std::unique_ptr<timer_service> timer_svc;
  std::unique_ptr<worker_pool> default_pool;
  std::map<std::string, std::unique_ptr<worker_pool>> named_pools;
  cell_base* root = nullptr;  ///< "/" (holds a count)
  cell_base* user = nullptr;  ///< "/user" (holds a count)
  std::atomic<std::uint64_t> next_id{1};
  std::atomic<bool> shutting_down{false};
  std::atomic<std::uint32_t> root_dead{0};
  volley::system* facade = nullptr;

 private:
  std::atomic<std::uint32_t> refs_{1};
  detail::mutex retired_mu_;
  std::vector<std::unique_ptr<worker_pool>> retired_pools_ VOLLEY_GUARDED_BY(retired_mu_);
  detail::mutex shutdown_mu_;
  bool joined_ VOLLEY_GUARDED_BY(shutdown_mu_) = false;
};

// -- lifecycle (cell.cpp) ------------------------------------------------------------

/// Begin stopping `c` from inside its activation: children first, then
/// post_stop, then death. Idempotent.
void begin_stop(cell_base* c, context& ctx, stop_reason why);

/// Queue a system message asking `target` to stop (any thread).
void send_stop(cell_base* target, stop_reason why);

/// Dead-letter a user message that reached `c` after it began stopping
/// (cell.cpp): reason system_shutdown when `c` stops because the system
/// shuts down, recipient_stopped otherwise; a volley::terminated is dropped
/// without a report (a watcher that has stopped has nobody to tell).
/// Destroys the payload; the caller retires the envelope.
void dead_letter_after_stop(cell_base* c, envelope* e) noexcept;

/// Log a failure once: path, where, what() (supervision.cpp).
void report_failure(cell_base* c, std::string_view where, const std::exception_ptr& ex) noexcept;
/// A restart that waited for the old instance's children (supervision.cpp).
void finish_restart(cell_base* c, context& ctx);
/// Mark `c` failed and hand the failure to its parent (supervision.cpp).
void escalate_to_parent(cell_base* c, std::exception_ptr ex);

/// A handler (or hook) of `c` threw: report it and let its supervisor decide.
void on_failure(cell_base* c, context& ctx, std::exception_ptr ex, std::string_view where) noexcept;

/// At death: send terminated to the watchers, unwatch the watched (watch.cpp).
void settle_watches(cell_base* c);

/// At death: destroy a waiting coroutine, dead-letter the stash and the
/// unstashed messages not yet handled (context.cpp).
void discard_kept_messages(cell_base* c) noexcept;
/// The next unstashed message (has_front_ must be true).
envelope* take_front(cell_base* c) noexcept;

/// Run pre_start if the actor has one and has not been started.
void start_if_needed(cell_base* c, context& ctx);

}  // namespace volley::detail
