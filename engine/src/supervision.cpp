// engine/src/supervision.cpp — failures, and what parents do about them.
//
// A failed actor sets `failed_` (its activation then parks the mailbox, like
// an actor waiting on a coroutine: user messages wait, system messages do
// not) and sends its parent `child_failed`. The parent, in its own
// activation, asks its strategy for a directive and sends `supervise` to the
// child (or to all children, for all_for_one); a restart with backoff is
// sent by a timer instead. The child obeys in its activation. Everything a
// directive touches is therefore touched by the actor that owns it.
#include <cmath>
#include <cstdio>
#include <string>

#include <volley/engine/detail/timer.hpp>
#include <volley/engine/supervision.hpp>

#include "system_core.hpp"

namespace volley {

std::chrono::milliseconds supervisor_strategy::backoff_for(unsigned restart_number) const noexcept {
  if (backoff_min_.count() <= 0) return std::chrono::milliseconds(0);
  double ms = static_cast<double>(backoff_min_.count()) *
              std::pow(backoff_factor_, restart_number > 0 ? restart_number - 1 : 0);
  double cap = static_cast<double>(std::max(backoff_max_, backoff_min_).count());
  return std::chrono::milliseconds(static_cast<long long>(std::min(ms, cap)));
}

}  // namespace volley

namespace volley::detail {

namespace {

std::string what_of(const std::exception_ptr& ex) {
  try {
    std::rethrow_exception(ex);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

struct child_failed {
  cell_base* child;  // counted
  std::exception_ptr error;
};
struct supervise {
  directive what;
  std::exception_ptr error;
};

void drop_child_failed(envelope* e, dead_letter_reason) noexcept {
  auto* me = static_cast<message_envelope<child_failed>*>(e);
  me->msg.child->release();
  me->msg.~child_failed();
}

void handle_supervise(envelope* e, cell_base* c, context& ctx);
void handle_child_failed(envelope* e, cell_base* parent, context& ctx);

constexpr message_info child_failed_info{type_id<child_failed>(), "volley::child_failed",
                                         &drop_child_failed, sizeof(message_envelope<child_failed>),
                                         true};
constexpr message_info supervise_info{type_id<supervise>(), "volley::supervise",
                                      &drop_payload<supervise>, sizeof(message_envelope<supervise>),
                                      true};

void send_directive(cell_base* child, directive d, std::exception_ptr ex) {
  child->deliver_system(
      make_envelope<supervise>(&handle_supervise, &supervise_info, supervise{d, std::move(ex)}));
}

/// A restart that waits for its backoff: a timer that sends the directive.
struct delayed_restart final : timer_base {
  std::exception_ptr error;
  explicit delayed_restart(cell_base* child, std::exception_ptr ex) : error(std::move(ex)) {
    refs.store(1, std::memory_order_relaxed);  // only the service holds it
    target = child;
    child->add_ref();
    core = child->core();
    callback = [](timer_base* t) {
      send_directive(t->target, directive::restart, static_cast<delayed_restart*>(t)->error);
    };
    destroy = [](timer_base* t) noexcept { delete static_cast<delayed_restart*>(t); };
  }
};

}  // namespace

/// Second half of a restart, once the old instance's children are gone:
/// a fresh instance from the spawn arguments, then post_restart.
void finish_restart(cell_base* c, context& ctx) {
  cell_extras& ext = c->extras();
  {
    // Under mu: a dying child reads it there (cell.cpp, unlink_from_parent).
    detail::lock_guard lock(ext.mu);
    ext.restart_pending = false;
  }
  std::exception_ptr why = std::exchange(ext.restart_error, nullptr);
  try {
    c->ops_->reconstruct(c);
  } catch (...) {
    c->actor_destroyed_ = true;  // the old one is gone and the new one was not made
    std::fprintf(stderr,
                 "volley: %s could not be restarted (its constructor threw: %s); stopping it\n",
                 c->path().c_str(), what_of(std::current_exception()).c_str());
    c->failed_ = false;
    begin_stop(c, ctx, stop_reason::failed);
    return;
  }
  c->failed_ = false;
  c->started_ = true;
  try {
    c->ops_->post_restart(c, ctx, why);
  } catch (...) {
    on_failure(c, ctx, std::current_exception(), "post_restart");
  }
}

namespace {

void restart(cell_base* c, context& ctx, const std::exception_ptr& why) {
  if (c->state() != lifecycle::alive) return;
  try {
    c->ops_->pre_restart(c, ctx, why);
  } catch (...) {
    std::fprintf(stderr, "volley: %s threw from pre_restart; restarting anyway\n",
                 c->path().c_str());
  }
  // The new instance starts from scratch: no timers, stash or waiting
  // coroutine of the old one, and no children — those are stopped first and
  // the new instance is made when the last has gone (child_terminated), so
  // it can spawn children under the same names. The mailbox is kept; user
  // messages wait meanwhile (failed_ stays set).
  cancel_all_timers(c);
  discard_kept_messages(c);
  bool waits = false;
  cell_extras& ext = c->extras();
  {
    // restart_pending is set in the same section that picks the children
    // to wait for: a child that unlinks after it sees it and tells us
    // (cell.cpp, unlink_from_parent); one that unlinked before is not
    // waited for.
    detail::lock_guard lock(ext.mu);
    ext.restart_pending = true;
    for (cell_base* ch = ext.first_child; ch != nullptr; ch = ch->next_sibling_) {
      send_stop(ch, stop_reason::stopped);
      waits = true;
    }
  }
  ext.restart_error = why;
  if (!waits) finish_restart(c, ctx);
}

void handle_supervise(envelope* e, cell_base* c, context& ctx) {
  auto& m = static_cast<message_envelope<supervise>*>(e)->msg;
  payload_guard<supervise> destroy_after{m};
  switch (m.what) {
    case directive::resume:
      c->failed_ = false;
      break;
    case directive::restart:
      restart(c, ctx, m.error);
      break;
    case directive::stop:
    case directive::escalate:
      c->failed_ = false;
      begin_stop(c, ctx, stop_reason::failed);
      break;
  }
}

std::vector<cell_base*> children_of(cell_base* parent) {
  std::vector<cell_base*> out;
  if (cell_extras* ext = parent->extras_if_any()) {
    detail::lock_guard lock(ext->mu);
    for (cell_base* ch = ext->first_child; ch != nullptr; ch = ch->next_sibling_) {
      ch->add_ref();
      out.push_back(ch);
    }
  }
  return out;
}

void handle_child_failed(envelope* e, cell_base* parent, context& ctx) {
  auto& m = static_cast<message_envelope<child_failed>*>(e)->msg;
  payload_guard<child_failed> destroy_after{m};  // runs last: after release_child below
  cell_base* child = m.child;
  struct release_child {
    cell_base*& c;
    ~release_child() { std::exchange(c, nullptr)->release(); }
  } guard{m.child};
  if (child->state() != lifecycle::alive || parent->state() != lifecycle::alive) return;

  supervisor_strategy strategy = supervisor_strategy::stopping();
  if (parent->ops_->strategy != nullptr) {
    try {
      parent->ops_->strategy(parent, &strategy);
    } catch (...) {
      std::fprintf(stderr, "volley: %s's supervisor_strategy() threw; stopping %s\n",
                   parent->path().c_str(), child->path().c_str());
    }
  }
  directive d = directive::stop;
  try {
    d = strategy.decide_for(m.error);
  } catch (...) {
    std::fprintf(stderr, "volley: %s's decider threw; stopping %s\n", parent->path().c_str(),
                 child->path().c_str());
  }
  if (d == directive::escalate && parent->parent_ != nullptr &&
      parent->parent_->parent_ == nullptr) {
    d = directive::stop;  // the /user guardian has nobody to escalate to
  }

  unsigned restart_number = 0;
  if (d == directive::restart) {
    if (child->ops_->reconstruct == nullptr) {
      std::fprintf(
          stderr,
          "volley: %s cannot be restarted (its spawn arguments cannot be copied); stopping it\n",
          child->path().c_str());
      d = directive::stop;
    } else {
      // The system's clock, so that a manual clock drives the window too.
      auto now = std::chrono::steady_clock::time_point(
          std::chrono::duration_cast<std::chrono::steady_clock::duration>(
              parent->core()->timers().clock().now().time_since_epoch()));
      auto& times = child->extras().restarts;
      std::erase_if(times, [&](auto t) { return now - t > strategy.window(); });
      if (times.size() >= strategy.max_restarts()) {
        std::fprintf(stderr, "volley: %s failed %zu times within %lld ms; %s\n",
                     child->path().c_str(), times.size() + 1,
                     static_cast<long long>(strategy.window().count()),
                     strategy.escalates_when_exhausted() ? "escalating" : "stopping it");
        d = strategy.escalates_when_exhausted() ? directive::escalate : directive::stop;
      } else {
        times.push_back(now);
        restart_number = static_cast<unsigned>(times.size());
      }
    }
  }

  std::vector<cell_base*> targets;
  if (strategy.kind() == supervisor_strategy::scope::all_for_one &&
      (d == directive::restart || d == directive::stop)) {
    targets = children_of(parent);
  } else {
    child->add_ref();
    targets.push_back(child);
  }
  for (cell_base* t : targets) {
    switch (d) {
      case directive::resume:
        send_directive(t, directive::resume, nullptr);
        break;
      case directive::restart:
        if (auto delay = strategy.backoff_for(restart_number); delay.count() > 0) {
          timer_schedule(t->core(), new delayed_restart(t, m.error), delay);
        } else {
          send_directive(t, directive::restart, m.error);
        }
        break;
      case directive::stop:
        send_directive(t, directive::stop, nullptr);
        break;
      case directive::escalate:
        send_directive(t, directive::stop, nullptr);  // the child stops; the parent fails
        break;
    }
    t->release();
  }
  if (d == directive::escalate) {
    on_failure(parent, ctx, m.error, "supervising " + child->path());
  }
}

}  // namespace

void report_failure(cell_base* c, std::string_view where, const std::exception_ptr& ex) noexcept {
  try {
    std::fprintf(stderr, "volley: actor %s failed in %.*s: %s\n", c->path().c_str(),
                 static_cast<int>(where.size()), where.data(), what_of(ex).c_str());
  } catch (...) {
  }
}

void escalate_to_parent(cell_base* c, std::exception_ptr ex) {
  c->failed_ = true;
  c->add_ref();
  c->parent_->deliver_system(make_envelope<child_failed>(&handle_child_failed, &child_failed_info,
                                                         child_failed{c, std::move(ex)}));
}

}  // namespace volley::detail
