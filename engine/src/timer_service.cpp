// engine/src/timer_service.cpp — see timer_service.hpp for the protocol.
#include "timer_service.hpp"

#include <pthread.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <optional>
#include <utility>
#include <vector>

#include <volley/engine/system.hpp>  // pace_this_thread

#include "system_core.hpp"

namespace volley::detail {

namespace {

// True on a thread inside a turn's deliveries: a delivery that advances a
// manual clock (a continuation in a test) must not wait for its own turn.
thread_local bool delivering_here = false;

timer_base* timer_of(queues::mpsc_node* n) noexcept {
  return static_cast<timer_base*>(n);
}
timer_base* timer_of(timer_node& n) noexcept {
  return static_cast<timer_base*>(&n);
}

// Deliver one timer this thread has claimed (armed -> firing). Runs with no
// lock held. Returns true if the timer is periodic and goes back into the
// wheel (the caller relinks it under mu_); otherwise the service's count
// has been dropped.
bool deliver_claimed(timer_base* t) noexcept {
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

void release_all(std::vector<timer_base*>& timers) noexcept {
  for (timer_base* t : timers) t->release();
  timers.clear();
}

}  // namespace

timer_service::timer_service(std::shared_ptr<volley::clock> clock, bool threaded)
    : clock_(clock ? std::move(clock) : std::make_shared<volley::steady_clock>()),
      origin_(clock_->now()) {
  if (!threaded) return;
  // A jump of a manual clock fires what became due on the advancing thread,
  // so that advance() returns only once those timers' messages are queued
  // (the guarantee clock.hpp states).
  sub_ = clock_->subscribe([this] { on_clock_jump(); });
  thread_ = std::thread([this] { run(); });
}

timer_service::~timer_service() {
  stop();
}

std::uint64_t timer_service::now_tick() const {
  return timing_wheel::tick_at(clock_->now() - origin_, tick_);
}

// -- arming and cancelling (any thread, no lock) ----------------------------------------

void timer_service::schedule(timer_base* t, std::chrono::nanoseconds delay) noexcept {
  std::uint64_t deadline = timing_wheel::deadline_at(clock_->now() - origin_ + delay, tick_);
  t->due_tick = deadline;
  // relaxed: the push's exchange (seq_cst, so a release) publishes both
  // writes to the timer thread's acquire in pop().
  t->state.store(timer_state::armed, std::memory_order_relaxed);
  thread_local std::uint32_t arms = 0;
  bool wake_anyway = ++arms % arms_per_forced_wake == 0;
  // `t` may be gone once pushed (fired or dropped by the timer thread):
  // nothing below touches it.
  if (handoff_.push(t, deadline, wake_anyway)) wake_thread();
  // seq_cst, after the push's seq_cst exchange: either stop()'s drain (which
  // stores running_ first, then looks at the queue) sees this timer, or we
  // see running_ false and drain it ourselves (store-buffering again).
  if (!running_.load(std::memory_order_seq_cst)) drop_everything();
}

bool timer_service::cancel(timer_base* t) noexcept {
  // acq_rel: acquire pairs with the timer thread's release when it relinks
  // a periodic timer (its reads of `target` during the firing happen
  // before our write below); release publishes that write to whoever
  // drops the last count.
  timer_state old = t->state.exchange(timer_state::cancelled, std::memory_order_acq_rel);
  if (old != timer_state::armed) return false;  // firing now, or fired, or cancelled
  // It will never fire: the cell count it held for the delivery goes back
  // now, not when the timer thread meets the node (maybe an hour later).
  if (cell_base* c = std::exchange(t->target, nullptr)) c->release();
  if (t->on_cancelled != nullptr) t->on_cancelled(t);
  return true;
}

void timer_service::wake_thread() {
  detail::lock_guard lock(sleep_mu_);
  cv_.notify_one();
}

// -- the timer thread's side (under mu_) --------------------------------------------------

void timer_service::drain_handoff(std::vector<timer_base*>& dropped) {
  while (queues::mpsc_node* n = handoff_.pop()) {
    timer_base* t = timer_of(n);
    // acquire: a cancel before the pop is seen here, and the node never
    // enters the wheel (the fate of most ask timeouts).
    if (t->state.load(std::memory_order_acquire) == timer_state::cancelled) {
      dropped.push_back(t);
      if (linger_until_ <= wheel_.now() || t->due_tick < linger_until_) linger_until_ = t->due_tick;
    } else {
      wheel_.schedule(*t, t->due_tick);
    }
  }
}

void timer_service::collect_due(std::vector<timer_base*>& due, std::vector<timer_base*>& dropped) {
  wheel_.advance(now_tick(), [&](timer_node& n) {
    timer_base* t = timer_of(n);
    // The claim: armed -> firing. It fails only on `cancelled` (a cancel
    // came first): then the timer is dropped unfired. acq_rel: acquire sees
    // the arming thread's writes (and a canceller's), release orders a
    // periodic relink's reads before a later cancel's acquire.
    timer_state armed = timer_state::armed;
    if (t->state.compare_exchange_strong(armed, timer_state::firing, std::memory_order_acq_rel)) {
      due.push_back(t);
    } else {
      dropped.push_back(t);
    }
  });
}

void timer_service::sweep_if_due(std::vector<timer_base*>& dropped) {
  if (wheel_.size() < sweep_at_) return;
  wheel_.remove_if(
      [](timer_node& n) {
        return timer_of(n)->state.load(std::memory_order_acquire) == timer_state::cancelled;
      },
      [&dropped](timer_node& n) { dropped.push_back(timer_of(n)); });
  // Twice what is left: a wheel of live timers is swept once per doubling,
  // O(1) amortised per timer; cancelled ones never exceed the live ones by
  // more than that (or min_sweep).
  sweep_at_ = std::max(min_sweep, 2 * wheel_.size());
}

void timer_service::relink_periodic(std::vector<timer_base*>& fired,
                                    std::vector<timer_base*>& dropped) {
  auto period_ticks = [this](const timer_base* t) {
    auto ticks = static_cast<std::uint64_t>(t->period / tick_);
    return ticks == 0 ? std::uint64_t{1} : ticks;
  };
  for (timer_base* t : fired) {
    // Back at deadline + period, so it keeps its phase (a deadline already
    // past fires on the next turn). Not when cancelled while it fired, nor
    // after stop(): those are dropped.
    timer_state firing = timer_state::firing;
    if (!running_.load(std::memory_order_relaxed) ||
        !t->state.compare_exchange_strong(firing, timer_state::armed, std::memory_order_acq_rel)) {
      dropped.push_back(t);
      continue;
    }
    wheel_.schedule(*t, t->deadline() + period_ticks(t));
  }
  fired.clear();
}

bool timer_service::turn(std::vector<timer_base*>& due, std::vector<timer_base*>& dropped) {
  {
    detail::lock_guard lock(mu_);
    drain_handoff(dropped);
    collect_due(due, dropped);
    sweep_if_due(dropped);
    if (!due.empty()) ++delivering_;
  }
  // Counts are dropped with no lock held: a last one may destroy a cell.
  release_all(dropped);
  if (due.empty()) return false;
  bool outer = !std::exchange(delivering_here, true);
  std::size_t periodic = 0;
  for (timer_base* t : due) {
    if (deliver_claimed(t)) due[periodic++] = t;
  }
  due.resize(periodic);
  if (outer) delivering_here = false;
  {
    detail::lock_guard lock(mu_);
    relink_periodic(due, dropped);
    if (--delivering_ == 0) delivered_.notify_all();
  }
  release_all(dropped);
  return true;
}

void timer_service::poll() {
  std::vector<timer_base*> due;
  std::vector<timer_base*> dropped;
  turn(due, dropped);
}

void timer_service::on_clock_jump() {
  if (!running_.load(std::memory_order_acquire)) return;
  std::vector<timer_base*> due;
  std::vector<timer_base*> dropped;
  turn(due, dropped);
  // The timer thread may have claimed some of the newly due timers first and
  // be delivering them outside mu_: wait for it, or advance() could return
  // before their messages are queued. Not from inside a delivery of ours.
  if (!delivering_here) {
    detail::unique_lock lock(mu_);
    while (delivering_ != 0) delivered_.wait(lock.native());
  }
  wake_thread();  // re-plan its sleep on the new time
}

void timer_service::run() {
  pthread_setname_np(pthread_self(), "volley-timer");  // as the workers are named (scheduler.cpp)
  volley::pace_this_thread(false);  // a timer's delivery never naps for envelopes
  std::vector<timer_base*> due;     // reused: no allocation per turn once warm
  std::vector<timer_base*> dropped;
  while (running_.load(std::memory_order_acquire)) {
    handoff_.wake_up();
    if (turn(due, dropped)) continue;  // time moved on while we delivered: look again
    std::optional<std::uint64_t> next;
    std::uint64_t until = timer_handoff::forever;
    {
      detail::lock_guard lock(mu_);
      next = wheel_.next_deadline();
      // An empty wheel whose last timers were cancelled in the queue: sleep
      // towards the earliest of those deadlines rather than for ever, so
      // that the next arm of the same kind (a later deadline) finds the
      // thread asleep towards an earlier one and does not wake it. Without
      // this, a quiet system that arms and cancels one timeout at a time
      // paid a futex wake per arm. It costs at most one wake-up for nothing
      // per such deadline.
      if (!next && linger_until_ > wheel_.now()) next = linger_until_;
      if (next) {
        // Sleep at most an hour at a time: a deadline years ahead would
        // overflow a nanosecond time_point, and waking hourly costs nothing.
        std::uint64_t hour = static_cast<std::uint64_t>(std::chrono::hours(1) / tick_);
        until = std::min(*next, wheel_.now() + hour);
      }
    }
    detail::unique_lock lock(sleep_mu_);
    if (!running_.load(std::memory_order_acquire)) break;
    if (!prepare_sleep(until)) {
      // A timer was handed over since the turn (or a push is half done:
      // let that producer finish).
      lock.unlock();
      std::this_thread::yield();
      lock.lock();
      continue;
    }
    if (next) {
      clock_->wait_until(lock.native(), cv_, origin_ + until * tick_);
    } else {
      cv_.wait(lock.native());
    }
  }
}

bool timer_service::prepare_sleep(std::uint64_t until) {
  // Its last look reads the consumer side of the queue, which a manual
  // clock's jump may be draining on another thread: that is mu_'s (nested
  // inside sleep_mu_ here, and nowhere the other way round).
  detail::lock_guard lock(mu_);
  return handoff_.prepare_sleep(until);
}

// -- stopping -----------------------------------------------------------------------------

void timer_service::stop() {
  if (!running_.exchange(false, std::memory_order_seq_cst)) return;
  wake_thread();
  if (thread_.joinable()) thread_.join();
  if (sub_ != 0) clock_->unsubscribe(sub_);
  drop_everything();
}

void timer_service::drop_everything() {
  std::vector<timer_base*> pending;
  {
    detail::lock_guard lock(mu_);
    // maybe_pending() is the seq_cst look at the queue that pairs with
    // schedule()'s push-then-load: every timer pushed before running_ went
    // false is found here (a half-done push is waited for), and a later
    // pusher runs this itself.
    while (handoff_.maybe_pending()) {
      if (queues::mpsc_node* n = handoff_.pop()) {
        pending.push_back(timer_of(n));
      } else {
        std::this_thread::yield();
      }
    }
    // Walk the wheel from deadline to deadline (overflow timers included),
    // taking each out instead of firing it.
    while (auto next = wheel_.next_deadline()) {
      wheel_.advance(*next, [&pending](timer_node& n) { pending.push_back(timer_of(n)); });
    }
  }
  // After the lock: an armed timer is claimed (a cancel may race with us)
  // and told it will never fire — an ask's timeout completes its request
  // with an error, which may run a continuation; then the counts go (a last
  // release may destroy a cell, which cancels its timers, and may arm one).
  for (timer_base* t : pending) {
    timer_state armed = timer_state::armed;
    if (t->on_dropped != nullptr &&
        t->state.compare_exchange_strong(armed, timer_state::firing, std::memory_order_acq_rel)) {
      t->on_dropped(t);
    }
  }
  release_all(pending);
}

// -- the per-actor side ---------------------------------------------------------------

void timer_schedule(system_core* core, timer_base* t, std::chrono::nanoseconds delay) {
  core->timers().schedule(t, delay);
}

void timer_cancel(system_core*, timer_base* t) noexcept {
  (void)timer_service::cancel(t);
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
    (void)timer_service::cancel(e.node);
    e.node->release();
  }
}

void drop_stale_timer_message(cell_base* c, envelope* e) noexcept {
  c->sys_->dead_letter(c, e, dead_letter_reason::timer_cancelled);
}

}  // namespace volley::detail
