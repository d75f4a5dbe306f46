// engine/src/timer_service.cpp — see timer_service.hpp for the protocol.
#include "timer_service.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>

#include "system_core.hpp"

namespace volley::detail {

namespace {

// A fired timer's service count moves to the wheel again (periodic) or is
// dropped. Delivery happens outside nothing: the wheel's lock is held, and
// deliver() takes no lock, so it cannot deadlock against a starter.
void fire(timer_base* t, timing_wheel& wheel) {
  if (t->cancelled.load(std::memory_order_acquire)) {
    t->release();
    return;
  }
  if (t->callback != nullptr) {
    t->callback(t);
    t->release();
    return;
  }
  try {
    envelope* e = t->make(t);
    t->target->deliver(e);
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "volley: a timer of %s could not build its message: %s\n",
                 t->target->path().c_str(), ex.what());
  }
  if (t->period.count() > 0) {
    auto period_ticks = static_cast<std::uint64_t>(t->period / wheel.tick_duration());
    wheel.schedule(*t, t->deadline() + (period_ticks == 0 ? 1 : period_ticks));
  } else {
    t->release();
  }
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
    std::lock_guard lock(mu_);
    if (!running_) return;
    wheel_.advance(now_tick(),
                   [this](timer_node& n) { fire(static_cast<timer_base*>(&n), wheel_); });
    cv_.notify_one();
  });
  thread_ = std::thread([this] { run(); });
}

void timer_service::poll() {
  std::lock_guard lock(mu_);
  wheel_.advance(now_tick(), [this](timer_node& n) { fire(static_cast<timer_base*>(&n), wheel_); });
}

timer_service::~timer_service() { stop(); }

std::uint64_t timer_service::now_tick() const { return wheel_.tick_at(clock_->now() - origin_); }

void timer_service::run() {
  std::unique_lock lock(mu_);
  while (running_) {
    wheel_.advance(now_tick(), [this](timer_node& n) { fire(static_cast<timer_base*>(&n), wheel_); });
    auto next = wheel_.next_deadline();
    if (next) {
      // Sleep at most an hour at a time: a deadline years ahead would
      // overflow a nanosecond time_point, and waking hourly costs nothing.
      std::uint64_t hour = static_cast<std::uint64_t>(std::chrono::hours(1) / wheel_.tick_duration());
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
  // (overflow timers included) releasing each instead of firing it.
  std::lock_guard lock(mu_);
  while (auto next = wheel_.next_deadline()) {
    wheel_.advance(*next, [](timer_node& n) { static_cast<timer_base*>(&n)->release(); });
  }
}

// -- the per-actor side ---------------------------------------------------------------

void timer_schedule(system_core* core, timer_base* t, std::chrono::nanoseconds delay) {
  core->timers().schedule(t, delay);
}

void timer_cancel(system_core* core, timer_base* t) noexcept { core->timers().cancel(t); }

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
