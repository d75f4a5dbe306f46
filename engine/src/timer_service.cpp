// engine/src/timer_service.cpp — see timer_service.hpp for the protocol.
#include "timer_service.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <utility>
#include <vector>

#include "system_core.hpp"

namespace volley::detail {

namespace {

// Deliver one due timer. Runs with no lock held: the message factory is user
// code, and delivery may enqueue, wake a worker (futex) or, for an ask
// timeout, run the asker's continuation; none of that may hold up timer
// starts and cancels on the workers, and a continuation that starts a timer
// must not deadlock. Returns true if the timer is periodic and goes back into
// the wheel (the caller relinks it, under the lock); otherwise the service's
// count has been dropped.
// True on a thread inside fire(): a delivery that advances a manual clock
// (a continuation in a test) must not wait for its own fire() to end.
thread_local bool firing_here = false;

bool deliver_due(timer_base* t) noexcept {
  if (t->cancelled.load(std::memory_order_acquire)) {
    t->release();
    return false;
  }
  if (t->callback != nullptr) {
    t->callback(t);
    t->release();
    return false;
  }
  try {
    envelope* e = t->make(t);
    t->target->deliver(e);
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "volley: a timer of %s could not build its message: %s\n",
                 t->target->path().c_str(), ex.what());
  }
  if (t->period.count() > 0) return true;
  t->release();
  return false;
}

}  // namespace

timer_service::timer_service(std::shared_ptr<volley::clock> clock, bool threaded)
    : clock_(clock ? std::move(clock) : std::make_shared<volley::steady_clock>()),
      origin_(clock_->now()) {
  if (!threaded) return;
  // A jump of a manual clock fires what became due on the advancing thread,
  // so that advance() returns only once those timers' messages are queued
  // (the guarantee clock.hpp states); the timer thread then re-plans its sleep.
  sub_ = clock_->subscribe([this] {
    std::vector<timer_base*> due;
    std::unique_lock lock(mu_);
    if (!running_) return;
    collect_due(due);
    if (!due.empty()) fire(due, lock);
    // The timer thread may have collected some of the newly due timers
    // first and be delivering them outside the lock: wait for it, or
    // advance() could return before their messages are queued.
    if (!firing_here) delivered_.wait(lock, [this] { return delivering_ == 0; });
    cv_.notify_one();
  });
  thread_ = std::thread([this] { run(); });
}

void timer_service::collect_due(std::vector<timer_base*>& due) {
  // The wheel only unlinks here: each due node (and the service's count on
  // it) moves to `due`, to be delivered once the lock is released. A cancel
  // meanwhile finds the node unlinked and leaves the count to us; the
  // cancelled flag, set before every cancel, tells deliver_due to drop it.
  wheel_.advance(now_tick(),
                 [&due](timer_node& n) { due.push_back(static_cast<timer_base*>(&n)); });
}

void timer_service::fire(std::vector<timer_base*>& due, std::unique_lock<std::mutex>& lock) {
  ++delivering_;
  lock.unlock();
  bool outer = !std::exchange(firing_here, true);
  std::size_t periodic = 0;
  for (timer_base* t : due) {
    if (deliver_due(t)) due[periodic++] = t;
  }
  if (outer) firing_here = false;
  lock.lock();
  // Periodic timers go back at deadline + period, so they keep their phase
  // (a deadline already past fires on the next advance). Not when the timer
  // was cancelled while it was out of the wheel, or the service stopped:
  // those counts are dropped after the lock is released, since the last one
  // may destroy the actor's cell, and that cancels timers (takes mu_).
  std::size_t dropped = 0;
  for (std::size_t i = 0; i < periodic; ++i) {
    timer_base* t = due[i];
    if (!running_ || t->cancelled.load(std::memory_order_acquire)) {
      due[dropped++] = t;
      continue;
    }
    auto period_ticks = static_cast<std::uint64_t>(t->period / wheel_.tick_duration());
    wheel_.schedule(*t, t->deadline() + (period_ticks == 0 ? 1 : period_ticks));
  }
  if (dropped != 0) {
    lock.unlock();
    for (std::size_t i = 0; i < dropped; ++i) due[i]->release();
    lock.lock();
  }
  due.clear();
  if (--delivering_ == 0) delivered_.notify_all();
}

void timer_service::poll() {
  std::vector<timer_base*> due;
  std::unique_lock lock(mu_);
  collect_due(due);
  if (!due.empty()) fire(due, lock);
}

timer_service::~timer_service() {
  stop();
}

std::uint64_t timer_service::now_tick() const {
  return wheel_.tick_at(clock_->now() - origin_);
}

void timer_service::run() {
  std::vector<timer_base*> due;  // reused: no allocation per tick once warm
  std::unique_lock lock(mu_);
  while (running_) {
    collect_due(due);
    if (!due.empty()) {
      fire(due, lock);
      continue;  // time moved on while we delivered: look again before sleeping
    }
    auto next = wheel_.next_deadline();
    if (next) {
      // Sleep at most an hour at a time: a deadline years ahead would
      // overflow a nanosecond time_point, and waking hourly costs nothing.
      std::uint64_t hour =
          static_cast<std::uint64_t>(std::chrono::hours(1) / wheel_.tick_duration());
      std::uint64_t until = std::min(*next, wheel_.now() + hour);
      sleeping_until_ = until;
      clock_->wait_until(lock, cv_, origin_ + until * wheel_.tick_duration());
    } else {
      sleeping_until_ = std::numeric_limits<std::uint64_t>::max();
      cv_.wait(lock);
    }
  }
}

void timer_service::schedule(timer_base* t, std::chrono::nanoseconds delay) {
  std::uint64_t deadline = wheel_.deadline_at(clock_->now() - origin_ + delay);
  std::lock_guard lock(mu_);
  if (!running_) {
    t->release();  // a stopped system fires nothing
    return;
  }
  wheel_.schedule(*t, deadline);
  if (deadline < sleeping_until_) {
    sleeping_until_ = deadline;
    cv_.notify_one();
  }
}

void timer_service::cancel(timer_base* t) noexcept {
  bool was_pending;
  {
    std::lock_guard lock(mu_);
    was_pending = wheel_.cancel(*t);
  }
  if (was_pending) t->release();  // the service's count
}

void timer_service::stop() {
  {
    std::lock_guard lock(mu_);
    if (!running_) return;
    running_ = false;
    cv_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
  if (sub_ != 0) clock_->unsubscribe(sub_);
  // Drop what is still pending: walk the wheel from deadline to deadline
  // (overflow timers included) taking each out instead of firing it, and
  // release them once the lock is dropped (a last release may destroy a
  // cell, which cancels its timers: that takes mu_).
  std::vector<timer_base*> pending;
  {
    std::lock_guard lock(mu_);
    while (auto next = wheel_.next_deadline()) {
      wheel_.advance(
          *next, [&pending](timer_node& n) { pending.push_back(static_cast<timer_base*>(&n)); });
    }
  }
  for (timer_base* t : pending) t->release();
}

// -- the per-actor side ---------------------------------------------------------------

void timer_schedule(system_core* core, timer_base* t, std::chrono::nanoseconds delay) {
  core->timers().schedule(t, delay);
}

void timer_cancel(system_core* core, timer_base* t) noexcept {
  core->timers().cancel(t);
}

timer_table& timers_of(cell_base* c) {
  cell_extras& ext = c->extras();
  if (ext.timers == nullptr) ext.timers = new timer_table();
  return *ext.timers;
}

bool take_timer_entry(cell_base* c, std::uint64_t gen, bool single) noexcept {
  cell_extras* ext = c->extras_if_any();
  if (ext == nullptr || ext->timers == nullptr) return false;
  auto& entries = ext->timers->entries;
  for (auto it = entries.begin(); it != entries.end(); ++it) {
    if (it->gen == gen) {
      if (single) {
        timer_base* t = it->node;
        entries.erase(it);
        t->release();  // the table's count; the service dropped its own on firing
      }
      return true;
    }
  }
  return false;
}

void cancel_all_timers(cell_base* c) noexcept {
  cell_extras* ext = c->extras_if_any();
  if (ext == nullptr || ext->timers == nullptr) return;
  auto entries = std::move(ext->timers->entries);
  ext->timers->entries.clear();
  for (auto& e : entries) {
    e.node->cancelled.store(true, std::memory_order_release);
    c->sys_->timers().cancel(e.node);
    e.node->release();
  }
}

void drop_stale_timer_message(cell_base* c, envelope* e) noexcept {
  c->sys_->dead_letter(c, e, dead_letter_reason::timer_cancelled);
}

}  // namespace volley::detail
